"""IPPS Table 6K: the complete list of CC exclusions, in its three parts.

Part 1 lists every CC/MCC with the PDX collection that cancels it (`` A000    CC  0002:3 codes     …``,
one leading space; ``No Excl`` when no principal diagnosis does;
sizes over 999 are printed with a comma, ``1,070 codes``), followed by one block per collection
(``PDX collection 0002`` then the member codes, two leading spaces). Part 2 lists the codes that count
only when the patient is discharged alive. Part 3 has blocks headed ``MDC 05 DRGs 280-282 <title>``
whose codes are not counted as CC/MCC within those DRGs. Codes are dotless in the file; records carry
them dotted. Each collection's member count is checked against the size Part 1 announced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from loaders.errors import ParseError, WrongFileError
from loaders.icd10cm.codes import add_dot
from loaders.input_checks import RepeatedKeys
from loaders.msdrg_tables.cc_lists import Severity
from loaders.msdrg_tables.common import text_lines

_CODE = r"[A-Z][0-9A-Z]{2}[0-9A-Z]{0,4}"
_EXCLUSIONS = r"(?:(?P<collection>\d{4}):(?P<size>\d{1,3}(?:,\d{3})*) codes?|No Excl)"
_DESIGNATION = re.compile(rf" (?P<code>{_CODE}) +(?P<level>MCC|CC) +{_EXCLUSIONS} +(?P<desc>\S.*)")
_MEMBER = re.compile(rf"  (?P<code>{_CODE}) +(?P<desc>\S.*)")
_PART = re.compile(r"K?\s*Part ([123])\b", re.IGNORECASE)
_COLLECTION = re.compile(r"PDX collection (\d{4})\s*")
_DRG_BLOCK = re.compile(r"MDC (\d{2}) DRGs? (\d{3})(?:-(\d{3}))? +(\S.*)")


@dataclass(frozen=True, slots=True)
class CcDesignation:
    """Part 1: a secondary diagnosis that is a CC or MCC, and the collection of PDXs that cancel it."""

    code: str
    level: Severity
    collection: str | None  # 4 digits; None for "No Excl"
    collection_size: int | None
    description: str
    line: int


@dataclass(frozen=True, slots=True)
class PdxExclusionMember:
    """Part 1 collection block: with this PDX, the CCs/MCCs naming the collection count as non-CC."""

    collection: str
    pdx_code: str
    line: int


@dataclass(frozen=True, slots=True)
class AliveOnlyMcc:
    """Part 2: counts as CC/MCC only if the patient was discharged alive."""

    code: str
    description: str
    line: int


@dataclass(frozen=True, slots=True)
class DrgSpecificExclusion:
    """Part 3: this secondary diagnosis does not count as CC/MCC when the case falls in one of ``drgs``."""

    code: str
    mdc: str  # 2 digits
    drgs: tuple[str, ...]  # 3-character DRGs, the block's range expanded
    drg_group: str  # the block's title, e.g. "Acute Myocardial Infarction, Expired"
    description: str
    line: int


CcExclusionRecord = CcDesignation | PdxExclusionMember | AliveOnlyMcc | DrgSpecificExclusion


class _Reader:
    """The state of one pass over the file: which part and block the current line belongs to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.part = 0
        self.titled = False
        self.header = False
        self.sizes: dict[str, tuple[int, int]] = {}  # collection -> (announced size, line announcing it)
        self.collection: tuple[str, int, int] | None = None  # (collection, its line, members so far)
        self.seen: set[str] = set()
        self.designated: RepeatedKeys[str, tuple[str, str | None]] = RepeatedKeys(
            "CC/MCC code", "CC/MCC row", describe=lambda v: f"level {v[0]}, collection {v[1] or 'No Excl'}")
        self.drg_block: tuple[str, tuple[str, ...], str] | None = None

    def fail(self, line: int, field: str, expected: str, found: str) -> ParseError:
        return ParseError(self.path, line, field, expected, found[:100])

    def close_collection(self) -> None:
        if self.collection is None:
            return
        name, line, members = self.collection
        size, announced = self.sizes.get(name, (None, 0))
        if size is None:
            raise self.fail(line, f"PDX collection {name}", "a collection that a Part 1 row names (this one is "
                            "dangling: no CC/MCC names it)", name)
        if members != size:
            raise self.fail(line, f"PDX collection {name}", f"{size} member codes as Part 1 says at line {announced}",
                            f"{members} codes")
        if name in self.seen:
            raise self.fail(line, f"PDX collection {name}", "one block per collection", "a second block")
        self.seen.add(name)
        self.collection = None

    def line(self, number: int, text: str) -> CcExclusionRecord | None:
        part = _PART.match(text)
        if part is not None and int(part.group(1)) == self.part + 1:
            self.close_collection()
            self.part = int(part.group(1))
            return None
        if not text.strip():
            return None
        if self.part == 0:
            self.titled = self.titled or "exclusion" in text.lower()
            if not self.titled or number > 40:  # a title naming CC exclusions, then a short paragraph
                raise WrongFileError(
                    self.path,
                    number,
                    "title",
                    "Table 6K: a 'COMPLETE LIST OF CC EXCLUSIONS' "
                    "title and 'Part 1: List of CC and Major CC Codes' near the top",
                    text,
                )
            return None
        if self.part == 1:
            return self.part1(number, text)
        member = _MEMBER.fullmatch(text.rstrip())
        if self.part == 2:
            if member is None:
                raise self.fail(number, "code", "two spaces, a dotless ICD-10-CM code, a description", text)
            return AliveOnlyMcc(add_dot(member["code"]), member["desc"], number)
        block = _DRG_BLOCK.fullmatch(text.rstrip())
        if block is not None:
            first, last = int(block[2]), int(block[3] or block[2])
            self.drg_block = (block[1], tuple(f"{drg:03d}" for drg in range(first, last + 1)), block[4])
            return None
        if member is None or self.drg_block is None:
            raise self.fail(number, "code", "an 'MDC nn DRGs nnn-nnn <title>' line or a code under one", text)
        mdc, drgs, title = self.drg_block
        return DrgSpecificExclusion(add_dot(member["code"]), mdc, drgs, title, member["desc"], number)

    def part1(self, number: int, text: str) -> CcExclusionRecord | None:
        if not self.header:
            if "Lev" not in text or "PDX Exclusions" not in text:
                raise self.fail(
                    number, "header", "' I10 Dx  Lev PDX Exclusions   ICD-10-CM Description'", text
                )
            self.header = True
            return None
        opened = _COLLECTION.fullmatch(text)
        if opened is not None:
            self.close_collection()
            self.collection = (opened[1], number, 0)
            return None
        if self.collection is None:
            row = _DESIGNATION.fullmatch(text.rstrip())
            if row is None:
                raise self.fail(
                    number, "CC/MCC row", "' CODE    CC|MCC  NNNN:k codes|No Excl   description'", text
                )
            collection, size = row["collection"], int(row["size"].replace(",", "")) if row["size"] else None
            if not self.designated.first(row["code"], (row["level"], collection), self.path, number):
                return None
            if collection is not None and size is not None:
                announced = self.sizes.setdefault(collection, (size, number))[0]
                if announced != size:
                    raise self.fail(
                        number,
                        "PDX exclusions",
                        f"{collection}:{announced} codes as said earlier",
                        f"{collection}:{size}",
                    )
            return CcDesignation(
                add_dot(row["code"]),
                row["level"],
                collection,
                size,  # type: ignore[arg-type]
                row["desc"],
                number,
            )
        member = _MEMBER.fullmatch(text.rstrip())
        if member is None:
            raise self.fail(number, "PDX code", "two spaces, a dotless ICD-10-CM code, a description", text)
        name, line, count = self.collection
        self.collection = (name, line, count + 1)
        return PdxExclusionMember(name, add_dot(member["code"]), number)

    def finish(self, last: int) -> None:
        self.close_collection()
        if self.part < 3:
            raise self.fail(
                last, "part", f"Parts 1 to 3 (file cut short after Part {self.part}?)", "end of file"
            )
        missing = sorted(set(self.sizes) - self.seen)
        if missing:
            raise self.fail(
                self.sizes[missing[0]][1],
                f"PDX collection {missing[0]}",
                "a 'PDX collection' block for every collection Part 1 names",
                f"{len(missing)} without a block, first {missing[0]}",
            )


def read_cc_exclusions(path: Path) -> Iterator[CcExclusionRecord]:
    """Yield Part 1 designations and collection members, then Part 2 and Part 3 records, in file order."""
    reader = _Reader(path)
    number = 0
    for number, text in text_lines(path):
        record = reader.line(number, text)
        if record is not None:
            yield record
    reader.finish(number)
