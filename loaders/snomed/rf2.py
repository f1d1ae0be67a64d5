"""SNOMED CT RF2 rows -> typed records: concepts, descriptions, IS-A links, US English language
members, ICD-10-CM extended-map rows, and each concept's FSN and US preferred term.

Every file is tab-delimited UTF-8 with one header row and no quoting (terms hold quotes). A reader
checks the header exactly, the column count of every row and each field's form, and that no row is
dated after the release date in the file name. Full files keep every version of a row: the readers
return the latest row per id (held in a dict, so a Full file is read whole before anything is yielded).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from loaders.errors import ParseError, WrongFileError
from loaders.snomed.release import ReleaseType, Rf2Kind, parse_rf2_name
from loaders.text_lines import decoded_lines

IS_A = "116680003"
FSN_TYPE = "900000000000003001"
SYNONYM_TYPE = "900000000000013009"
US_ENGLISH_REFSET = "900000000000509007"
PREFERRED = "900000000000548007"
ICD10CM_MAP_REFSET = "6011000124106"

_COLUMNS: dict[Rf2Kind, tuple[str, ...]] = {
    Rf2Kind.CONCEPT: ("id", "effectiveTime", "active", "moduleId", "definitionStatusId"),
    Rf2Kind.DESCRIPTION: (
        "id", "effectiveTime", "active", "moduleId", "conceptId", "languageCode", "typeId", "term",
        "caseSignificanceId",
    ),
    Rf2Kind.RELATIONSHIP: (
        "id", "effectiveTime", "active", "moduleId", "sourceId", "destinationId", "relationshipGroup", "typeId",
        "characteristicTypeId", "modifierId",
    ),
    Rf2Kind.LANGUAGE: (
        "id", "effectiveTime", "active", "moduleId", "refsetId", "referencedComponentId", "acceptabilityId",
    ),
    Rf2Kind.EXTENDED_MAP: (
        "id", "effectiveTime", "active", "moduleId", "refsetId", "referencedComponentId", "mapGroup", "mapPriority",
        "mapRule", "mapAdvice", "mapTarget", "correlationId", "mapCategoryId",
    ),
}  # fmt: skip

# SCTID partition (2nd and 3rd digits from the right): 0 = short form, 1 = namespaced (extension) form.
_CONCEPT, _DESCRIPTION, _RELATIONSHIP = ("00", "10"), ("01", "11"), ("02", "12")
_SCTID = re.compile(r"[1-9]\d{5,17}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ICD10CM_DOTTED = re.compile(r"[A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?")


@dataclass(frozen=True, slots=True)
class SnomedConcept:
    id: str
    effective_time: date
    active: bool
    module_id: str
    definition_status_id: str  # 900000000000074008 primitive, 900000000000073002 fully defined


@dataclass(frozen=True, slots=True)
class SnomedDescription:
    id: str
    concept_id: str
    language: str
    type_id: str  # FSN_TYPE or SYNONYM_TYPE (text definitions live in another file)
    term: str
    active: bool
    effective_time: date


@dataclass(frozen=True, slots=True)
class SnomedIsA:
    child_id: str
    parent_id: str
    active: bool  # inactive rows are kept so a load can retire the edge (unless another row keeps it)
    effective_time: date
    relationship_id: str  # one child/parent pair can have several relationship ids over time


@dataclass(frozen=True, slots=True)
class SnomedLanguageMember:
    description_id: str
    refset_id: str
    acceptability_id: str  # PREFERRED or 900000000000549004 acceptable
    active: bool
    id: str  # member UUID
    effective_time: date


@dataclass(frozen=True, slots=True)
class SnomedMapRow:
    id: str  # member UUID
    concept_id: str
    group: int
    priority: int
    rule: str
    advice: str
    target: str | None  # dotted ICD-10-CM code; None = this group gives no code
    correlation_id: str
    category_id: str  # 447637006 properly classified, 447638001 cannot be classified, 447639009 context dependent...
    active: bool
    effective_time: date


@dataclass(frozen=True, slots=True)
class ConceptTerms:
    concept_id: str
    fsn: str | None
    preferred_term: str | None


@lru_cache(maxsize=4096)  # a release holds a few hundred distinct effectiveTimes across millions of rows
def _yyyymmdd(value: str) -> date:
    if len(value) != 8 or not value.isdigit():
        raise ValueError(value)
    return date(int(value[:4]), int(value[4:6]), int(value[6:]))


class _Row:
    """One data row, with the checks that name its file, line and field."""

    __slots__ = ("cells", "index", "line", "path", "release_date")

    def __init__(self, path: Path, line: int, index: dict[str, int], cells: list[str], release_date: date) -> None:
        self.path, self.line, self.index, self.cells, self.release_date = path, line, index, cells, release_date

    def raw(self, field: str) -> str:
        return self.cells[self.index[field]]

    def fail(self, field: str, expected: str) -> ParseError:
        return ParseError(self.path, self.line, field, expected, self.raw(field))

    def sctid(self, field: str, partitions: tuple[str, ...] = _CONCEPT) -> str:
        value = self.raw(field)
        if not _SCTID.fullmatch(value) or value[-3:-1] not in partitions:
            kind = {_CONCEPT: "concept", _DESCRIPTION: "description", _RELATIONSHIP: "relationship"}[partitions]
            raise self.fail(field, f"a {kind} SCTID (6-18 digits, partition {'/'.join(partitions)})")
        return value

    def member_id(self) -> str:
        value = self.raw("id")
        if not _UUID.fullmatch(value):
            raise self.fail("id", "a lower-case UUID")
        return value

    def active(self) -> bool:
        value = self.raw("active")
        if value not in ("0", "1"):
            raise self.fail("active", "0 or 1")
        return value == "1"

    def effective_time(self) -> date:
        try:
            when = _yyyymmdd(self.raw("effectiveTime"))
        except ValueError:
            raise self.fail("effectiveTime", "a date YYYYMMDD") from None
        if when > self.release_date:
            raise self.fail("effectiveTime", f"a date no later than the release date {self.release_date:%Y%m%d}")
        self.sctid("moduleId")  # every row names its module; checked here since every reader asks for the time
        return when

    def positive_int(self, field: str) -> int:
        value = self.raw(field)
        if not value.isdigit() or int(value) < 1:
            raise self.fail(field, "a whole number of 1 or more")
        return int(value)


def _rows(path: Path, kind: Rf2Kind) -> Iterator[_Row]:
    """The checked data rows of an RF2 file of ``kind``; raises WrongFileError for another file's name or header."""
    name = parse_rf2_name(path)
    if name is None or name.kind is not kind:
        found = f"{name.kind} file" if name else path.name
        raise WrongFileError(path, None, "file name", f"a {kind}_<Snapshot|Full>_..._<YYYYMMDD>.txt file", found)
    columns = _COLUMNS[kind]
    index = {column: position for position, column in enumerate(columns)}
    lines = decoded_lines(path)
    header = next(lines, None)
    if header is None or tuple(header.text.split("\t")) != columns:
        found = header.text[:200] if header is not None else "an empty file"
        raise WrongFileError(path, 1, "header", "\t".join(columns), found)
    blank: int | None = None
    for line in lines:
        if not line.text:
            blank = blank or line.number  # tolerated only at the end of the file
            continue
        if blank is not None:
            raise ParseError(path, blank, None, "a data row (blank lines only at the end)", "")
        cells = line.text.split("\t")
        if len(cells) != len(columns):
            cut = "" if line.ended else " on a last line with no line ending (file cut short?)"
            raise ParseError(path, line.number, "columns", f"{len(columns)} tab-separated fields", f"{len(cells)}{cut}")
        yield _Row(path, line.number, index, cells, name.release_date)


_R = TypeVar("_R")


def _read(path: Path, kind: Rf2Kind, build: Callable[[_Row], _R], key: Callable[[_R], str]) -> Iterator[_R]:
    """Records in file order (Snapshot, Delta) or the latest version per id (Full)."""
    name = parse_rf2_name(path)
    if name is None or name.release_type is not ReleaseType.FULL:
        for row in _rows(path, kind):
            yield build(row)
        return
    latest: dict[str, tuple[date, _R]] = {}
    for row in _rows(path, kind):
        record = build(row)
        when = row.effective_time()
        seen = latest.get(key(record))
        if seen is not None and seen[0] == when:
            raise row.fail("effectiveTime", "one row per id and effectiveTime in a Full file")
        if seen is None or when > seen[0]:
            latest[key(record)] = (when, record)
    for _when, record in latest.values():
        yield record


def read_concepts(path: Path) -> Iterator[SnomedConcept]:
    """``sct2_Concept_<Snapshot|Full>_*.txt`` rows, active and inactive."""

    def build(row: _Row) -> SnomedConcept:
        return SnomedConcept(
            id=row.sctid("id"),
            effective_time=row.effective_time(),
            active=row.active(),
            module_id=row.raw("moduleId"),
            definition_status_id=row.sctid("definitionStatusId"),
        )

    return _read(path, Rf2Kind.CONCEPT, build, lambda c: c.id)


def read_descriptions(path: Path) -> Iterator[SnomedDescription]:
    """``sct2_Description_<Snapshot|Full>-en_*.txt`` rows (FSNs and synonyms), active and inactive."""

    def build(row: _Row) -> SnomedDescription:
        term = row.raw("term")
        if not term.strip():
            raise row.fail("term", "a non-empty term")
        language = row.raw("languageCode")
        if not re.fullmatch(r"[a-z]{2}", language):
            raise row.fail("languageCode", "a two-letter language code")
        row.sctid("caseSignificanceId")
        return SnomedDescription(
            id=row.sctid("id", _DESCRIPTION),
            concept_id=row.sctid("conceptId"),
            language=language,
            type_id=row.sctid("typeId"),
            term=term,
            active=row.active(),
            effective_time=row.effective_time(),
        )

    return _read(path, Rf2Kind.DESCRIPTION, build, lambda d: d.id)


def read_is_a(path: Path) -> Iterator[SnomedIsA]:
    """IS-A links (typeId 116680003) of ``sct2_Relationship_*``, active and inactive.

    Rows of other types (finding site, ...) are checked but not yielded."""

    def build(row: _Row) -> tuple[str, SnomedIsA | None]:
        relationship_id = row.sctid("id", _RELATIONSHIP)
        when, active = row.effective_time(), row.active()
        child, parent, type_id = row.sctid("sourceId"), row.sctid("destinationId"), row.sctid("typeId")
        if not row.raw("relationshipGroup").isdigit():
            raise row.fail("relationshipGroup", "a whole number")
        row.sctid("characteristicTypeId")
        row.sctid("modifierId")
        link = SnomedIsA(child, parent, active, when, relationship_id) if type_id == IS_A else None
        return relationship_id, link

    for _id, link in _read(path, Rf2Kind.RELATIONSHIP, build, lambda pair: pair[0]):
        if link is not None:
            yield link


def read_language_members(path: Path, refset_id: str | None = US_ENGLISH_REFSET) -> Iterator[SnomedLanguageMember]:
    """``der2_cRefset_Language*-en_*`` members of ``refset_id`` (None = every language refset in the file)."""

    def build(row: _Row) -> SnomedLanguageMember:
        return SnomedLanguageMember(
            description_id=row.sctid("referencedComponentId", _DESCRIPTION),
            refset_id=row.sctid("refsetId"),
            acceptability_id=row.sctid("acceptabilityId"),
            active=row.active(),
            id=row.member_id(),
            effective_time=row.effective_time(),
        )

    for member in _read(path, Rf2Kind.LANGUAGE, build, lambda m: m.id):
        if refset_id is None or member.refset_id == refset_id:
            yield member


def read_extended_map(path: Path, refset_id: str = ICD10CM_MAP_REFSET) -> Iterator[SnomedMapRow]:
    """Rows of the SNOMED CT to ICD-10-CM map (``der2_iisssccRefset_ExtendedMap*``).

    The US package also ships other extended maps (e.g. 447562003, WHO ICD-10) in this file: they are skipped."""

    def build(row: _Row) -> SnomedMapRow | None:
        member_id, when, active = row.member_id(), row.effective_time(), row.active()
        if row.sctid("refsetId") != refset_id:
            return None
        target = row.raw("mapTarget")
        if target and not _ICD10CM_DOTTED.fullmatch(target):
            raise row.fail("mapTarget", "empty or a dotted ICD-10-CM code such as I50.9")
        rule = row.raw("mapRule")
        if not rule.strip():
            raise row.fail("mapRule", "a rule such as TRUE, OTHERWISE TRUE or IFA <sctid> | <term> |")
        return SnomedMapRow(
            id=member_id,
            concept_id=row.sctid("referencedComponentId"),
            group=row.positive_int("mapGroup"),
            priority=row.positive_int("mapPriority"),
            rule=rule,
            advice=row.raw("mapAdvice"),
            target=target or None,
            correlation_id=row.sctid("correlationId"),
            category_id=row.sctid("mapCategoryId"),
            active=active,
            effective_time=when,
        )

    # Full: the latest version per member id must be judged before the refset filter, so key rows by id.
    for record in _read(path, Rf2Kind.EXTENDED_MAP, lambda row: (row.raw("id"), build(row)), lambda pair: pair[0]):
        if record[1] is not None:
            yield record[1]


def concept_terms(
    descriptions: Iterable[SnomedDescription],
    language_members: Iterable[SnomedLanguageMember],
    refset_id: str = US_ENGLISH_REFSET,
) -> dict[str, ConceptTerms]:
    """Per concept, its FSN and preferred synonym in ``refset_id`` (US English): active descriptions whose
    active member of that refset says preferred. Raises ValueError if a concept has two of either."""
    preferred = {
        m.description_id
        for m in language_members
        if m.active and m.refset_id == refset_id and m.acceptability_id == PREFERRED
    }
    chosen: dict[tuple[str, str], str] = {}
    for description in descriptions:
        if not description.active or description.id not in preferred:
            continue
        if description.type_id not in (FSN_TYPE, SYNONYM_TYPE):
            continue
        slot = (description.concept_id, description.type_id)
        if slot in chosen and chosen[slot] != description.term:
            what = "FSN" if description.type_id == FSN_TYPE else "preferred term"
            raise ValueError(
                f"concept {description.concept_id} has two {what}s in refset {refset_id}: "
                f"{chosen[slot]!r} and {description.term!r}"
            )
        chosen[slot] = description.term
    concept_ids = sorted({concept_id for concept_id, _type in chosen})
    return {cid: ConceptTerms(cid, chosen.get((cid, FSN_TYPE)), chosen.get((cid, SYNONYM_TYPE))) for cid in concept_ids}
