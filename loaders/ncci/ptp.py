"""NCCI procedure-to-procedure (PTP) edit tables: the tab-delimited TXT release (``ccipra-…``, ``ccioph-…``).

Layout: a copyright banner, a ``Column1/Column2 Edits`` title, a header wrapped over several lines
(its first line starts ``Column 1``; the wrapped lines start with an empty cell), then one row per edit:
column 1, column 2, ``*`` if in existence before 1996, effective date, deletion date or ``*``,
modifier indicator 0/1/9, rationale. The header is found by its text, so a longer banner is fine.
The practitioner table may come as several part files: ``read_ptp_files`` reads them in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import NamedTuple

from loaders.errors import ParseError, WrongFileError
from loaders.input_checks import DuplicateKeyError, note_folded
from loaders.ncci.common import NcciSetting, decoded_lines, is_procedure_code, yyyymmdd
from loaders.text_lines import tab_field_at

FIELDS = 7
HEADER_SEARCH_LINES = 40  # the header sits near the top; give up early on a file of another kind
MODIFIER_INDICATORS = frozenset({0, 1, 9})
_HEADER_START = re.compile(r"column\s*1\s*$", re.IGNORECASE)
_COLUMN_NAME = re.compile(r"column\s*([12])", re.IGNORECASE)
# What the first header line's cells say, in order (the header is wrapped over the lines below it).
HEADER_WORDS = ("column 1", "column 2", "existence", "effective", "deletion", "modifier", "rationale")
COLUMNS = ("column 1", "column 2", "prior to 1996", "effective date", "deletion date", "modifier indicator",
           "rationale")
# Documented cap: a row is seven short cells (CMS rationales are under 100 characters).
MAX_LINE_BYTES = 4096
MAX_RATIONALE_CHARS = 1_000
_NAME_SETTINGS = {"ccipra": NcciSetting.PRACTITIONER, "ccioph": NcciSetting.OUTPATIENT_HOSPITAL}
# A well-formed row in one C-level match (no padding, seven cells): most of a quarter's 500k+ rows. A row it does
# not match goes through ``_checked_edit``, whose cell-by-cell checks word the error (or accept padded cells).
_PLAIN_ROW = re.compile(r"(\S{5})\t(\S{5})\t(\*?)\t(\d{8})\t(\d{8}|\*)\t([019])\t(\S(?:[^\t]*\S)?)")


class PtpEdit(NamedTuple):  # a named tuple: built millions of times per quarter, 3x cheaper than a frozen dataclass
    column1: str  # comprehensive code: paid
    column2: str  # component code: denied unless a modifier bypasses (indicator 1)
    setting: NcciSetting
    prior_1996: bool
    effective: date
    deletion: date | None  # None: still active (``*``)
    modifier_indicator: int  # 0 never bypassed, 1 bypassable with an NCCI modifier, 9 edit does not apply
    rationale: str
    file: str
    line: int


def setting_from_name(path: Path) -> NcciSetting | None:
    """``ccipra…`` -> practitioner, ``ccioph…`` -> outpatient hospital, otherwise None."""
    name = path.name.lower()
    return next((setting for key, setting in _NAME_SETTINGS.items() if key in name), None)


def _resolve_setting(path: Path, given: NcciSetting | str | None) -> NcciSetting:
    named = setting_from_name(path)
    if given is None:
        if named is None:
            raise WrongFileError(
                path,
                None,
                "setting",
                "a file name containing 'ccipra' (practitioner) or "
                "'ccioph' (outpatient hospital), or the setting passed by the caller",
                path.name,
            )
        return named
    setting = NcciSetting(given)
    if setting is NcciSetting.DME:
        raise WrongFileError(
            path, None, "setting", "practitioner or outpatient_hospital (PTP has no DME table)", str(given)
        )
    if named is not None and named is not setting:
        raise WrongFileError(
            path, None, "setting", f"a {setting.value} table", f"a file named as {named.value}"
        )
    return setting


def _skip_header(path: Path, lines: Iterator[tuple[int, str]]) -> tuple[int, str] | None:
    """Consume banner, title and wrapped header; return the first data line (or None at end of file)."""
    seen_header = False
    for number, text in lines:
        first = text.split("\t", 1)[0].strip().strip('"')
        if not seen_header:
            if _is_header(text):
                _check_header(path, number, text)
                seen_header = True
            elif number >= HEADER_SEARCH_LINES:
                break
            continue
        if first:  # wrapped header lines start with an empty cell; the first filled one is data
            return number, text
    if not seen_header:
        raise WrongFileError(
            path,
            None,
            "header",
            "an NCCI PTP table: a header row starting 'Column 1<TAB>"
            f"Column 2' within the first {HEADER_SEARCH_LINES} lines",
            None,
        )
    return None


def _is_header(text: str) -> bool:
    """A line naming both Column 1 and Column 2 as cells, in whatever order (the banner's title does not)."""
    named = {m[1] for cell in text.split("\t") if (m := _COLUMN_NAME.fullmatch(cell.strip().strip('"')))}
    return named == {"1", "2"}


def _check_header(path: Path, line: int, text: str) -> None:
    """The header's columns in the layout's order: swapped columns would read every edit backwards."""
    cells = [" ".join(cell.strip().strip('"').lower().split()).replace("column1", "column 1")
             .replace("column2", "column 2") for cell in text.split("\t")]
    for index, word in enumerate(HEADER_WORDS):
        cell = cells[index] if index < len(cells) else ""
        if (cell != word) if index < 2 else (word not in cell):
            raise ParseError(path, line, f"header column {index + 1}",
                             "the PTP header in order: " + ", ".join(HEADER_WORDS), " | ".join(cells))


def _edit(path: Path, number: int, text: str, setting: NcciSetting) -> PtpEdit:
    """One row: the plain form checked by one pattern and cached look-ups, anything else cell by cell."""
    match = _PLAIN_ROW.fullmatch(text)
    if match is None:
        return _checked_edit(path, number, text, setting)
    column1, column2, prior, effective, deletion, indicator, rationale = match.groups()
    try:
        effective_date = yyyymmdd(effective)
        deletion_date = None if deletion == "*" else yyyymmdd(deletion)
    except ValueError:  # not a calendar date: worded by the checks
        return _checked_edit(path, number, text, setting)
    if (is_procedure_code(column1) and is_procedure_code(column2) and len(rationale) <= MAX_RATIONALE_CHARS
            and (deletion_date is None or deletion_date >= effective_date)):
        return PtpEdit(column1, column2, setting, prior == "*", effective_date, deletion_date, int(indicator),
                       rationale, str(path), number)
    return _checked_edit(path, number, text, setting)


def _checked_edit(path: Path, number: int, text: str, setting: NcciSetting) -> PtpEdit:
    fields = list(map(str.strip, text.split("\t")))
    if len(fields) < FIELDS or any(fields[FIELDS:]):
        raise ParseError(
            path, number, "row", f"{FIELDS} tab-separated fields", f"{len(fields)} fields: {text!r}"
        )
    column1, column2, prior, effective, deletion, indicator, rationale = fields[:FIELDS]
    for name, code in (("column 1", column1), ("column 2", column2)):
        if not is_procedure_code(code):
            raise ParseError(path, number, name, "a 5-character CPT or HCPCS code", code)
    if prior not in ("", "*"):
        raise ParseError(path, number, "prior to 1996", "'*' or blank", prior)
    try:
        effective_date = yyyymmdd(effective)
    except ValueError:
        raise ParseError(path, number, "effective date", "a date YYYYMMDD", effective) from None
    try:
        deletion_date = None if deletion == "*" else yyyymmdd(deletion)
    except ValueError:
        raise ParseError(path, number, "deletion date", "a date YYYYMMDD or '*'", deletion) from None
    if deletion_date is not None and deletion_date < effective_date:
        raise ParseError(path, number, "deletion date", f"a date on or after the effective date {effective}",
                         deletion)
    if not indicator.isdigit() or int(indicator) not in MODIFIER_INDICATORS:
        raise ParseError(path, number, "modifier indicator", "0, 1 or 9", indicator)
    if not rationale:
        raise ParseError(path, number, "rationale", "a PTP edit rationale", "")
    if len(rationale) > MAX_RATIONALE_CHARS:
        raise ParseError(path, number, "rationale", f"at most {MAX_RATIONALE_CHARS:,} characters",
                         f"{len(rationale):,} characters")
    return PtpEdit(
        column1,
        column2,
        setting,
        prior == "*",
        effective_date,
        deletion_date,
        int(indicator),
        rationale,
        str(path),
        number,
    )


def read_ptp(path: Path, setting: NcciSetting | str | None = None) -> Iterator[PtpEdit]:
    """Yield every edit row of one PTP TXT file; ``setting`` defaults to what the file name says."""
    resolved = _resolve_setting(path, setting)
    lines = decoded_lines(path, MAX_LINE_BYTES, tab_field_at(COLUMNS))
    first = _skip_header(path, lines)
    if first is None:
        raise ParseError(path, None, "rows", "at least one edit row after the header (file cut short?)", None)
    number, text = first
    yield _edit(path, number, text, resolved)
    for number, text in lines:
        if text.strip():  # a trailing empty line is not an edit
            yield _edit(path, number, text, resolved)


def read_ptp_files(paths: Iterable[Path], setting: NcciSetting | str | None = None) -> Iterator[PtpEdit]:
    """Yield the edits of a table shipped as several part files (or one combined file), in the order given."""
    for path in paths:
        yield from read_ptp(path, setting)


class PtpRepeats:
    """One edit per (column 1, column 2, setting, effective date) in a release: a repeat with the same deletion
    date and modifier indicator is folded; one with another is refused. Millions of rows: each identity keeps
    one small int (deletion day, indicator, prior flag); the earlier row's line is looked up only for an error."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, NcciSetting, date], int] = {}

    @staticmethod
    def _value(edit: PtpEdit) -> int:
        deletion = edit.deletion.toordinal() if edit.deletion else 0
        return (deletion << 5) | (edit.modifier_indicator << 1) | edit.prior_1996

    def first(self, edit: PtpEdit) -> bool:
        """True the first time; False for an identical repeat; DuplicateKeyError for a conflicting one."""
        identity = (edit.column1, edit.column2, edit.setting, edit.effective)
        value = self._value(edit)
        seen = self._seen.get(identity)
        if seen is None:
            self._seen[identity] = value
            return True
        if seen == value:
            note_folded(edit.file, "PTP edit")
            return False
        earlier = _earlier_line(edit)
        raise DuplicateKeyError(
            edit.file, edit.line, "modifier indicator / deletion date",
            f"no conflicting duplicate: the pair {edit.column1}/{edit.column2} effective {edit.effective:%Y%m%d} "
            f"is already {earlier} with another deletion date or modifier indicator",
            f"duplicate pair with deletion date {edit.deletion or '*'} and indicator {edit.modifier_indicator}",
        )


def _earlier_line(edit: PtpEdit) -> str:
    """Where the first row of ``edit``'s pair and effective date is (read again, only to word an error)."""
    for other in read_ptp(Path(edit.file), edit.setting):
        if (other.column1, other.column2, other.effective) == (edit.column1, edit.column2, edit.effective):
            return f"at line {other.line}" if other.line != edit.line else "in an earlier part file"
    return "in an earlier part file"
