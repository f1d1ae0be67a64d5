"""Parse the flat ICD-10-CM code lists: the CMS order file, the codes file, and two packaged lists.

Every parser yields ``Icd10cmListedCode`` with the code dotted. ``detect_code_list_format`` reads
the first lines to pick the parser and refuses files of another system (ICD-10-PCS, HCPCS) or binary.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loaders.errors import ParseError, WrongFileError
from loaders.icd10cm.codes import DOTLESS_CODE, add_dot, strip_dot
from loaders.input_checks import RepeatedKeys
from loaders.text_lines import capped_raw_lines

__all__ = [
    "CodeListFormat",
    "Icd10cmListedCode",
    "add_dot",
    "detect_code_list_format",
    "parse_code_list",
    "parse_codes_file",
    "parse_drg_code_csv",
    "parse_order_file",
    "parse_simple_code_list",
    "read_code_list",
    "strip_dot",
]

CodeListFormat = Literal["order", "codes", "drg_csv", "simple_list"]


@dataclass(frozen=True, slots=True)
class Icd10cmListedCode:
    code: str  # dotted
    title: str | None  # long description; None where the list has none
    billable: bool | None  # None where the list cannot say
    order_number: int | None  # the order file's running number
    line: int


# Order file, 1-based columns: 1-5 order number, 7-13 code, 15 flag, 17-76 short title, 78- long title.
# The short title is space-padded to 60, so a line cut short before column 78 does not match.
_ORDER_LINE = re.compile(r"(?P<order>\d{5}) (?P<code>[0-9A-Z ]{7}) (?P<flag>[01]) (?P<short>.{60}) (?P<long>\S.*)")
# Codes file: code left-justified in 7 columns, a space, then the description.
_CODES_LINE = re.compile(r"(?P<code>[0-9A-Z]{3,7}) +(?P<title>\S.*)")
_CSV_LINE = re.compile(r'"?[0-9A-Z]{3,7}"?,')
_SIMPLE_LINE = re.compile(r"[0-9A-Z]{1,7}(?:-[0-9A-Z]{3})?")
# HCPCS Level II record: 5-character code, 5-digit sequence number, record id 3 or 4.
_HCPCS_LINE = re.compile(r"[A-Z]\d{4}\d{5}[34]")
_CHAPTER = re.compile(r"\d{1,2}")
_SECTION = re.compile(r"[A-Z][0-9A-Z]{2}-[A-Z][0-9A-Z]{2}")
_SAMPLE_LINES = 200
# Documented cap: CMS long titles are under 250 characters; a line is refused past this many bytes.
MAX_LINE_BYTES = 4096


def _lines(path: Path, layout: str | None = None) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without line ending), refusing binary and non-UTF-8 bytes by line.

    With ``layout`` (a CMS file, whose every line ends with a line ending) a last line without one is refused:
    the file was cut mid-line, and its last record would otherwise load with a cut title ("Laceration wi")."""
    # Lines read with a byte cap: an overlong title is refused before it is held whole.
    for number, raw in capped_raw_lines(path, MAX_LINE_BYTES, lambda _seen: "title"):
        if b"\x00" in raw:
            raise WrongFileError(path, number, "bytes", "a text file", "NUL bytes (binary file)")
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            bad = raw[error.start : error.end + 2]
            raise ParseError(path, number, "encoding", "UTF-8/ASCII text", repr(bad)) from error
        if layout is not None and not raw.endswith(b"\n") and text.strip():
            raise ParseError(path, number, "line ending",
                             f"every line of a CMS {layout} file to end with a line ending; the last one has "
                             "none: the file is cut short mid-line (incomplete download or copy?)",
                             text[-60:])
        yield number, text.rstrip("\r\n")


def _check_code(path: Path, line: int, field: str, code: str) -> str:
    """The dotted form of a dotless code, or the error saying which system the code belongs to."""
    if code[:1].isdigit() and len(code) == 7:
        raise WrongFileError(path, line, field, "an ICD-10-CM code (starts with a letter)", f"{code} (ICD-10-PCS)")
    if not DOTLESS_CODE.fullmatch(code):
        raise ParseError(path, line, field, "an ICD-10-CM code without dot, e.g. A000", code)
    return add_dot(code)


def parse_order_file(path: Path) -> Iterator[Icd10cmListedCode]:
    """``icd10cm-order-<FY>.txt``: every code and header, with the billable flag and order number."""
    previous = 0
    for number, text in _lines(path, "order"):
        if not text.strip():
            continue
        match = _ORDER_LINE.fullmatch(text.rstrip())
        if match is None:
            raise ParseError(path, number, "record", "order layout: 5-digit number, code, flag 0/1, titles", text)
        code = _check_code(path, number, "code", match["code"].strip())
        order = int(match["order"])
        if order <= previous:
            raise ParseError(path, number, "order number", f"a number above {previous:05d}", match["order"])
        previous = order
        yield Icd10cmListedCode(code, match["long"].strip(), match["flag"] == "1", order, number)


def parse_codes_file(path: Path) -> Iterator[Icd10cmListedCode]:
    """``icd10cm-codes-<FY>.txt``: billable codes only, code padded to 7, a space, the long title."""
    for number, text in _lines(path, "codes"):
        if not text.strip():
            continue
        match = _CODES_LINE.fullmatch(text.rstrip())
        if match is None:
            raise ParseError(path, number, "record", "a code, spaces, then its description", text)
        code = _check_code(path, number, "code", match["code"])
        yield Icd10cmListedCode(code, match["title"].strip(), True, None, number)


def parse_drg_code_csv(path: Path) -> Iterator[Icd10cmListedCode]:
    """The ``drg`` package's ``icd_10_cm.csv``: ``code,description`` rows, no header, billable codes."""
    numbered = iter(_lines(path, "code,description CSV"))
    rows = csv.reader(text for _, text in numbered)
    for row in rows:
        number = rows.line_num
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2:
            raise ParseError(path, number, "record", "2 columns: code,description", f"{len(row)} columns")
        code = _check_code(path, number, "code", row[0].strip())
        yield Icd10cmListedCode(code, row[1].strip(), True, None, number)


def parse_simple_code_list(path: Path) -> Iterator[Icd10cmListedCode]:
    """``simple_icd_10_cm``'s ``code-list-*.txt``: chapters, sections and codes, one a line, in tree order.

    Chapter numbers and section ranges are checked and not yielded. A one-category section ("B10") is
    listed once as a section and again as the code: the first of two equal lines is the section.
    Billable = a leaf: the next code does not extend it (the list is in tabular pre-order).
    """
    pending: tuple[int, str] | None = None
    for number, text in _lines(path):
        item = text.strip()
        if not item:
            continue
        if not _SIMPLE_LINE.fullmatch(item):
            raise ParseError(path, number, "code", "a chapter number, a section A00-A09 or a code", item)
        if _CHAPTER.fullmatch(item) or _SECTION.fullmatch(item):
            continue
        if pending is not None:
            if pending[1] == item:  # the section line of a one-category section
                pending = (number, item)
                continue
            yield Icd10cmListedCode(
                _check_code(path, pending[0], "code", pending[1]), None, not item.startswith(pending[1]),
                None, pending[0],
            )  # fmt: skip
        pending = (number, item)
    if pending is not None:
        yield Icd10cmListedCode(_check_code(path, pending[0], "code", pending[1]), None, True, None, pending[0])


_PARSERS: dict[CodeListFormat, Callable[[Path], Iterator[Icd10cmListedCode]]] = {
    "order": parse_order_file,
    "codes": parse_codes_file,
    "drg_csv": parse_drg_code_csv,
    "simple_list": parse_simple_code_list,
}


def _line_format(text: str) -> CodeListFormat | None:
    if _ORDER_LINE.fullmatch(text):
        return "order"
    if _CSV_LINE.match(text):
        return "drg_csv"
    if _CODES_LINE.fullmatch(text):
        return "codes"
    if _SIMPLE_LINE.fullmatch(text):
        return "simple_list"
    return None


def detect_code_list_format(path: Path) -> CodeListFormat:
    """Which ICD-10-CM list layout ``path`` holds, judged from its first lines (not its name).

    Raises WrongFileError for a binary file, an HCPCS file or an ICD-10-PCS list, and ParseError
    for mis-encoded bytes or lines no layout explains.
    """
    found: CodeListFormat | None = None
    for number, text in _lines(path):
        line = text.rstrip()
        if not line:
            continue
        if number > _SAMPLE_LINES:
            break
        if _HCPCS_LINE.match(line):
            raise WrongFileError(path, number, "record", "an ICD-10-CM code list", f"{line[:40]} (HCPCS record)")
        kind = _line_format(line)
        if kind is None or (found is not None and kind != found):
            expected = f"the {found} layout of the lines above" if found else "an ICD-10-CM code list line"
            raise ParseError(path, number, "record", expected, line[:80])
        found = kind
        code = _code_of(kind, line)
        if code is not None and code[:1].isdigit() and len(code) == 7:
            raise WrongFileError(path, number, "code", "an ICD-10-CM code", f"{code} (ICD-10-PCS)")
    if found is None:
        raise ParseError(path, None, "rows", "an ICD-10-CM code list with at least one code", "an empty file")
    return found


def _code_of(kind: CodeListFormat, line: str) -> str | None:
    if kind == "order":
        return line[6:13].strip()
    if kind == "drg_csv":
        return line.split(",", 1)[0].strip('"')
    if kind == "codes":
        return line.split(" ", 1)[0]
    return None if "-" in line else line


def parse_code_list(path: Path) -> Iterator[Icd10cmListedCode]:
    """Parse any of the four ICD-10-CM list layouts, chosen by ``detect_code_list_format``.

    A code listed twice with the same title and flag is folded; with another title or flag it is refused."""
    seen: RepeatedKeys[str, tuple[str | None, bool | None]] = RepeatedKeys(
        "code", "title", describe=lambda v: f"title {v[0]!r} (billable {v[1]})")
    for record in _PARSERS[detect_code_list_format(path)](path):
        if seen.first(record.code, (record.title, record.billable), path, record.line):
            yield record


# The name the ICD-10-CM loader (load.py) calls.
read_code_list = parse_code_list
