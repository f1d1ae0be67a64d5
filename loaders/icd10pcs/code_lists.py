"""ICD-10-PCS flat code lists: the CMS order file, the CMS codes file and a two-column CSV (code, title).

- order file (``icd10pcs_order_<FY>.txt``): fixed width, 1–5 order number, 7–13 code, 15 flag
  (0 header = 3-character table stem, 1 valid code), 17–76 short title, 78– long title;
- codes file (``icd10pcs_codes_<FY>.txt``): 7-character code, one space, long title;
- CSV (e.g. the Tuva project's ``icd_10_pcs.csv``): quoted ``"code","title"``, header optional.

Each parser yields ``PcsListedCode`` records; ``read_pcs_code_list`` picks the parser from the first line.
An ICD-10-CM or HCPCS file passed here raises ``WrongFileError`` on its first unreadable line.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from loaders.errors import ParseError, WrongFileError
from loaders.input_checks import RepeatedKeys, require_rows
from loaders.text_lines import decoded_lines

# 0-9 and A-Z without I and O (they would be confused with 1 and 0).
PCS_CHAR = "[0-9A-HJ-NP-Z]"
PCS_CODE = re.compile(rf"{PCS_CHAR}{{7}}")
PCS_STEM = re.compile(rf"{PCS_CHAR}{{3}}")
# First character = section; these 17 are every section since FY2016 (X New Technology was the last added).
PCS_SECTIONS = frozenset("0123456789BCDFGHX")

_ORDER_LINE = re.compile(r"\d{5} ")
_CM_CODE = re.compile(r"[A-Z][0-9A-Z]{2}[0-9A-Z]{0,4}")
_HCPCS_RECORD = re.compile(r"(?:[A-Z]\d{4}|   [0-9A-Z]{2})\d{5}[3478]")
# Documented cap: CMS long titles are under 300 characters; a line is refused past this many bytes.
MAX_LINE_BYTES = 4096


@dataclass(frozen=True, slots=True)
class PcsListedCode:
    """One line of a PCS code list: a valid code (``billable``) or, in the order file, a table stem header."""

    code: str
    title: str
    billable: bool
    order_number: int | None
    line: int
    short_title: str | None = None  # only the order file has one


def is_pcs_code(code: str) -> bool:
    return PCS_CODE.fullmatch(code) is not None and code[0] in PCS_SECTIONS


def _other_system(text: str) -> str | None:
    """Name the code system a line looks like when it is not PCS, for a WrongFileError message."""
    if len(text) > 200 and _HCPCS_RECORD.match(text):
        return "an HCPCS Level II alpha-numeric (ANWEB) file: use loaders.hcpcs.anweb"
    code = text[6:13].rstrip() if _ORDER_LINE.match(text) else text.split(",")[0].strip('"').split(" ")[0]
    if _CM_CODE.fullmatch(code) and (len(code) != 7 or code[0] not in PCS_SECTIONS):
        return "an ICD-10-CM code list (codes are letter + 2-6 characters): use the ICD-10-CM loader"
    return None


def _check_code(path: Path, line: int, code: str, text: str, *, stem: bool = False) -> None:
    shape = PCS_STEM if stem else PCS_CODE
    if shape.fullmatch(code) and code[0] in PCS_SECTIONS:
        return
    other = _other_system(text)
    if other:
        raise WrongFileError(path, line, "code", f"an ICD-10-PCS file, but this is {other}", code.strip())
    what = "a 3-character PCS table stem" if stem else "a 7-character ICD-10-PCS code"
    raise ParseError(path, line, "code", f"{what} (0-9, A-Z without I/O; section {''.join(sorted(PCS_SECTIONS))})",
                     code)


def read_pcs_order_file(path: Path, *, encoding: str = "utf-8") -> Iterator[PcsListedCode]:
    """Yield every line of ``icd10pcs_order_<FY>.txt``: table stem headers (flag 0) and valid codes (flag 1)."""
    for number, text, _ in decoded_lines(path, encoding, max_line_bytes=MAX_LINE_BYTES,
                                         field_at=lambda seen: "long title" if len(seen) > 77 else "short title"):
        if not text.strip():
            continue
        if not _ORDER_LINE.match(text) or len(text) < 17 or text[13] != " " or text[15] != " ":
            other = _other_system(text)
            if other:
                raise WrongFileError(path, number, "layout", f"an ICD-10-PCS order file, but this is {other}",
                                     text[:40])
            raise ParseError(path, number, "layout",
                             "order file columns: 5-digit order number, space, code in 7-13, flag in 15", text[:40])
        flag = text[14]
        if flag not in "01":
            raise ParseError(path, number, "flag", "0 (table header) or 1 (valid code)", flag)
        code = text[6:13].rstrip()
        _check_code(path, number, code, text, stem=flag == "0")
        short = text[16:76].rstrip()
        long = text[77:].strip()
        if not long:  # every real line has both titles: a missing long one means a cut line
            raise ParseError(path, number, "long title", "a long title from column 78 (line cut short?)", text[16:])
        yield PcsListedCode(code, long, flag == "1", int(text[:5]), number, short or None)


def read_pcs_codes_file(path: Path, *, encoding: str = "utf-8") -> Iterator[PcsListedCode]:
    """Yield every code of ``icd10pcs_codes_<FY>.txt`` (code, one space, long title)."""
    for number, text, _ in decoded_lines(path, encoding, max_line_bytes=MAX_LINE_BYTES, field_at=lambda _s: "title"):
        if not text.strip():
            continue
        code = text[:7]
        if len(text) < 9 or text[7] != " ":
            _check_code(path, number, code.rstrip(), text)  # names the wrong system when it can
            raise ParseError(path, number, "title", "a space after the 7-character code, then the title", text[:40])
        _check_code(path, number, code, text)
        title = text[8:].strip()
        if not title:
            raise ParseError(path, number, "title", "a title after the code", "")
        yield PcsListedCode(code, title, True, None, number)


def _looks_like_column_name(cell: str) -> bool:
    lowered = cell.lower()
    return "code" in lowered or "pcs" in lowered or any(ch.islower() for ch in cell)


def read_pcs_code_csv(path: Path, *, encoding: str = "utf-8") -> Iterator[PcsListedCode]:
    """Yield every row of a ``code,title`` CSV; a first row whose code cell is a column name is a header."""
    lines = decoded_lines(path, encoding, max_line_bytes=MAX_LINE_BYTES, field_at=lambda _s: "title")
    for index, row in enumerate(csv.reader(line.text for line in lines)):
        number = index + 1  # one record per line in these files: no embedded newlines
        if not row or not any(cell.strip() for cell in row):
            continue
        code = row[0].strip()
        if index == 0 and not is_pcs_code(code) and _looks_like_column_name(code):
            continue  # header row such as "code","title"
        if len(row) < 2:
            raise ParseError(path, number, "title", "two columns: code, title", ",".join(row)[:40])
        _check_code(path, number, code, ",".join(row))
        title = row[1].strip()
        if not title:
            raise ParseError(path, number, "title", "a title in the second column", "")
        yield PcsListedCode(code, title, True, None, number)


def read_pcs_code_list(path: Path, *, encoding: str = "utf-8") -> Iterator[PcsListedCode]:
    """Read any of the three list layouts, chosen by the shape of the first non-blank line.

    A code (or table header) listed twice with the same title is folded; with another title it is refused,
    and so is a list without a single code (an empty release is never made from it)."""
    lines = decoded_lines(path, encoding, max_line_bytes=MAX_LINE_BYTES)
    first = next((line.text for line in lines if line.text.strip()), "")
    if first.startswith('"') or (len(first) > 7 and first[7] == ","):
        records = read_pcs_code_csv(path, encoding=encoding)
    elif _ORDER_LINE.match(first):
        records = read_pcs_order_file(path, encoding=encoding)
    else:
        records = read_pcs_codes_file(path, encoding=encoding)
    return _checked(path, records)


def _checked(path: Path, records: Iterator[PcsListedCode]) -> Iterator[PcsListedCode]:
    seen: RepeatedKeys[str, tuple[str, str | None]] = RepeatedKeys(
        "code", "title", describe=lambda v: f"title {v[0]!r}")
    codes = 0
    for record in records:
        key = record.code if record.billable else f"{record.code} (table header)"
        if seen.first(key, (record.title, record.short_title), path, record.line):
            codes += record.billable
            yield record
    require_rows(path, codes, "ICD-10-PCS code")
