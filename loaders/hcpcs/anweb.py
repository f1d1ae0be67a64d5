"""The CMS HCPCS Level II alpha-numeric file (``HCPC<YYYY>_<MON>_ANWEB*.txt``): 320-character records.

A code or modifier is a first record (record id 3 procedure, 7 modifier) followed by continuation
records (4, 8) that carry the rest of the 80-character-per-line long description in sequence order.
Only the first record carries the detail fields. Lines shorter than 320 characters are accepted when
only trailing spaces were stripped (the fields still sit in their columns); every field is checked so
that a shifted line is refused rather than read into the wrong fields.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from loaders.errors import ParseError, WrongFileError
from loaders.input_checks import RepeatedKeys
from loaders.text_lines import decoded_lines

RECORD_LENGTH = 320
# Lines are read with this cap: a record is 320 characters, a longer line is refused having read 1 KB at most.
MAX_LINE_BYTES = 1024
HCPCS_CODE = re.compile(r"[A-Z]\d{4}")
MODIFIER = re.compile(r"[0-9A-Z]{2}")
ACTION_CODES = frozenset("ABCDFNPRST")
_FIRST = {"3": "4", "7": "8"}  # first-record id -> its continuation id


@dataclass(frozen=True, slots=True)
class HcpcsCode:
    code: str
    long_description: str
    short_description: str
    pricing_indicators: tuple[str, ...]  # up to 4 two-digit indicators, blanks dropped
    multiple_pricing_indicator: str | None
    coverage_code: str | None
    asc_group: str | None
    betos: str | None
    type_of_service: tuple[str, ...]  # up to 5 one-character codes, blanks dropped
    anesthesia_base_units: int | None
    added_date: date | None
    action_effective_date: date | None
    termination_date: date | None
    action_code: str
    line: int  # line of the first record


@dataclass(frozen=True, slots=True)
class HcpcsModifier:
    code: str  # 2 characters
    long_description: str
    short_description: str
    added_date: date | None
    action_effective_date: date | None
    termination_date: date | None
    action_code: str
    line: int


class _Record:
    """One padded 320-character line, read by 1-based inclusive columns as in the CMS layout."""

    def __init__(self, path: Path, line: int, text: str) -> None:
        self.path, self.line, self.text = path, line, text.ljust(RECORD_LENGTH)

    def col(self, first: int, last: int) -> str:
        return self.text[first - 1 : last]

    def fail(self, field: str, expected: str, found: str) -> ParseError:
        return ParseError(self.path, self.line, field, expected, found)

    def optional(self, first: int, last: int) -> str | None:
        return self.col(first, last).strip() or None

    def day(self, field: str, first: int) -> date | None:
        raw = self.col(first, first + 7)
        if not raw.strip():
            return None
        try:
            if not raw.isdigit():
                raise ValueError(raw)
            return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        except ValueError:
            raise self.fail(field, "a date YYYYMMDD or blank", raw) from None

    def indicators(self, field: str, first: int, count: int, width: int, shape: str) -> tuple[str, ...]:
        values = [self.col(first + i * width, first + (i + 1) * width - 1) for i in range(count)]
        found = tuple(value for value in values if value.strip())
        if any(not re.fullmatch(shape, value) for value in found):
            raise self.fail(field, f"{count} values matching {shape} or blank", "|".join(values))
        return found


def _record(path: Path, number: int, text: str, ended: bool) -> _Record:
    if len(text) > RECORD_LENGTH:
        raise ParseError(path, number, "record", f"a record of {RECORD_LENGTH} characters", f"{len(text)} characters")
    if not ended and len(text) < RECORD_LENGTH:
        raise ParseError(path, number, "record", f"a whole {RECORD_LENGTH}-character record (file cut short?)",
                         f"{len(text)} characters and no line end")
    record = _Record(path, number, text)
    if record.col(11, 11) not in "3478" or not record.col(6, 10).isdigit():
        if "\t" in text or re.match(r"\d{4}[0-9FTU]\t", text):
            raise WrongFileError(path, number, "record", "the HCPCS fixed-width ANWEB layout, not a tab-delimited "
                                 "file (a CPT licensee file? use loaders.cpt.licensee_file)", text[:20])
        if re.match(r"\d{5} [0-9A-Z]{3,7} +[01] ", text):
            raise WrongFileError(path, number, "record", "the HCPCS ANWEB layout, not an ICD-10 order file",
                                 text[:20])
        if re.match(r"[0-9A-Z]{3,7} +[A-Z][a-z]", text):
            raise WrongFileError(path, number, "record", "the HCPCS ANWEB layout, not an ICD-10 codes file "
                                 "(code, space, title)", text[:20])
        raise record.fail("record id", "sequence number in 6-10 and record id 3, 4, 7 or 8 in column 11",
                          record.col(1, 11))
    return record


def _code(record: _Record) -> str:
    raw = record.col(1, 5)
    if record.col(11, 11) in "78":
        if raw[:3] != "   " or not MODIFIER.fullmatch(raw[3:]):
            raise record.fail("modifier", "3 blanks then a 2-character modifier in columns 1-5", raw)
        return raw[3:]
    if not HCPCS_CODE.fullmatch(raw):
        if raw.isdigit() or re.fullmatch(r"\d{4}[FTU]", raw):
            raise WrongFileError(record.path, record.line, "code", "an HCPCS Level II code (CPT codes are not in "
                                 "this file; use the CPT loader)", raw)
        raise record.fail("code", "an HCPCS Level II code: a letter and 4 digits", raw)
    return raw


def _first(record: _Record, description: str) -> HcpcsCode | HcpcsModifier:
    action = record.col(293, 293)
    if action not in ACTION_CODES:
        raise record.fail("action code", f"one of {''.join(sorted(ACTION_CODES))} in column 293", action)
    added = record.day("added date", 269)
    effective = record.day("action effective date", 277)
    terminated = record.day("termination date", 285)
    if terminated is not None and added is not None and terminated < added:
        raise record.fail("termination date", f"a date on or after the added date {added:%Y%m%d}",
                          record.col(285, 292))
    short = record.col(92, 119).strip()
    if record.col(11, 11) == "7":
        return HcpcsModifier(_code(record), description, short, added, effective, terminated, action, record.line)
    units = record.col(266, 268).strip()
    if units and not units.isdigit():
        raise record.fail("anesthesia base units", "digits or blank in columns 266-268", units)
    coverage = record.optional(230, 230)
    if coverage is not None and not coverage.isalpha():
        raise record.fail("coverage code", "a letter (C, D, I, M, S) or blank in column 230", coverage)
    return HcpcsCode(
        code=_code(record),
        long_description=description,
        short_description=short,
        pricing_indicators=record.indicators("pricing indicator", 120, 4, 2, r"\d\d"),
        multiple_pricing_indicator=record.optional(128, 128),
        coverage_code=coverage,
        asc_group=record.optional(231, 232),
        betos=record.optional(257, 259),
        type_of_service=record.indicators("type of service", 261, 5, 1, r"[0-9A-Z]"),
        anesthesia_base_units=int(units) if units else None,
        added_date=added,
        action_effective_date=effective,
        termination_date=terminated,
        action_code=action,
        line=record.line,
    )


def _joined(parts: list[str]) -> str:
    # 80-column pieces may split mid-word: join them raw, then close the padding gaps.
    return " ".join("".join(parts).split())


def read_hcpcs_anweb(path: Path, *, encoding: str = "cp1252") -> Iterator[HcpcsCode | HcpcsModifier]:
    """Yield each code and modifier of the file with its continuation lines folded into the long description.

    ``encoding``: CMS ships plain single-byte text; a UTF-8 accented letter shows up as a 321-character record.
    A UTF-8 byte-order mark before the first record is accepted. A code listed twice with the same fields is
    folded; with other fields (another description, dates, indicators) it is refused, naming both lines.
    """
    seen: RepeatedKeys[str, HcpcsCode | HcpcsModifier] = RepeatedKeys(
        "code", "long description", describe=lambda r: f"long description {r.long_description!r}")
    for record in _records(path, encoding):
        key = record.code if isinstance(record, HcpcsCode) else f"modifier {record.code}"
        if seen.first(key, dataclasses.replace(record, line=0), path, record.line):
            yield record


def _records(path: Path, encoding: str) -> Iterator[HcpcsCode | HcpcsModifier]:
    first: _Record | None = None
    parts: list[str] = []
    sequence = -1
    for number, text, ended in decoded_lines(path, encoding, max_line_bytes=MAX_LINE_BYTES,
                                             field_at=lambda _seen: "record"):
        if not text.strip():
            continue
        record = _record(path, number, text, ended)
        record_id = record.col(11, 11)
        seq = int(record.col(6, 10))
        if record_id in _FIRST:
            if first is not None:
                yield _first(first, _joined(parts))
            _code(record)  # refuse a wrong code on its own line before reading further
            first, parts, sequence = record, [record.col(12, 91)], seq
            continue
        if first is None or _FIRST[first.col(11, 11)] != record_id or record.col(1, 5) != first.col(1, 5):
            owner = f"{first.col(1, 5).strip()} (id {first.col(11, 11)})" if first else "none"
            raise record.fail("record id", f"a continuation of the code before it; previous first record: {owner}",
                              f"{record.col(1, 5).strip()} (id {record_id})")
        if seq <= sequence:
            raise record.fail("sequence number", f"a number above {sequence:05d}", record.col(6, 10))
        parts.append(record.col(12, 91))
        sequence = seq
    if first is None:
        raise ParseError(path, None, "record", "at least one HCPCS record", "an empty file")
    yield _first(first, _joined(parts))
