"""NCCI medically unlikely edits (MUE): the quarterly CSV per setting (``MCR_MUE_<Setting>Services_Eff_…``).

Layout: the first cell is a multi-line AMA notice, then a header row ``HCPCS/CPT Code`` (the header
itself may hold a line break), ``<Setting> Services MUE Values``, ``MUE Adjudication Indicator``,
``MUE Rationale``; then one row per code. Quoted cells span lines, so the csv module reads it.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from loaders.errors import ParseError, WrongFileError
from loaders.input_checks import RepeatedKeys
from loaders.ncci.common import PROCEDURE_CODE, NcciSetting, decoded_lines

HEADER_SEARCH_ROWS = 10
# Documented caps: rows are four short cells (the AMA notice cell spans a few lines); rationales are short.
MAX_LINE_BYTES = 16 << 10
MAX_RATIONALE_CHARS = 1_000
ADJUDICATION_INDICATORS = frozenset({1, 2, 3})
_MAI = re.compile(r"([0-9])\b\s*(.*)", re.DOTALL)
# Words in the values header -> setting; outpatient first since "Facility Outpatient Hospital" also exists.
_HEADER_SETTINGS = (
    ("outpatient", NcciSetting.OUTPATIENT_HOSPITAL),
    ("practitioner", NcciSetting.PRACTITIONER),
    ("dme", NcciSetting.DME),
)


@dataclass(frozen=True, slots=True)
class MueEdit:
    code: str
    setting: NcciSetting
    value: int  # most units of service a provider would report for one beneficiary (line or date, per MAI)
    mai: int  # 1 per claim line, 2 per date of service (policy, absolute), 3 per date of service (clinical)
    mai_text: str  # as printed, e.g. "3 Date of Service Edit: Clinical"
    rationale: str
    file: str
    line: int  # physical line where the row starts


def _squash(cell: str) -> str:
    return " ".join(cell.split()).lower()


def _columns(path: Path, line: int, header: list[str]) -> tuple[dict[str, int], NcciSetting]:
    names = [_squash(cell) for cell in header]
    wanted = {
        "code": "hcpcs/ cpt code",
        "value": "mue values",
        "mai": "adjudication indicator",
        "rationale": "rationale",
    }
    found: dict[str, int] = {}
    for key, needle in wanted.items():
        hits = [i for i, name in enumerate(names) if needle.replace(" ", "") in name.replace(" ", "")]
        if len(hits) != 1:
            raise ParseError(
                path, line, "header", f"one column whose header contains {needle!r}", " | ".join(header)
            )
        found[key] = hits[0]
    values = names[found["value"]]
    setting = next((s for word, s in _HEADER_SETTINGS if word in values), None)
    if setting is None:
        raise ParseError(
            path,
            line,
            "header",
            "'Practitioner', 'Outpatient Hospital' or 'DME Supplier' Services MUE Values",
            header[found["value"]],
        )
    return found, setting


def read_mue(path: Path, setting: NcciSetting | str | None = None) -> Iterator[MueEdit]:
    """Yield every code row; the setting comes from the values header (``setting`` checks it if given).

    A code listed twice with the same values is folded; with another value, indicator or rationale it is
    refused. Lines are streamed with a byte cap (csv's field cap holds for cells spanning lines)."""
    seen: RepeatedKeys[str, MueEdit] = RepeatedKeys(
        "code", "MUE value", describe=lambda e: f"value {e.value}, indicator {e.mai}")
    for edit in _read_rows(path, setting):
        if seen.first(edit.code, dataclasses.replace(edit, line=0), path, edit.line):
            yield edit


def _field_at(seen: str) -> str:
    """The column an overlong row had reached (cells are quoted: count the separators between quotes)."""
    return ("HCPCS/CPT code", "MUE value", "MUE adjudication indicator", "MUE rationale")[min(seen.count('","'), 3)]


def _read_rows(path: Path, setting: NcciSetting | str | None) -> Iterator[MueEdit]:
    lines = (text + "\n" for _number, text in decoded_lines(path, MAX_LINE_BYTES, _field_at))
    reader = csv.reader(lines)
    columns: dict[str, int] | None = None
    resolved: NcciSetting | None = None
    start = 1
    rows = 0
    for index, row in enumerate(reader):
        line, start = start, reader.line_num + 1
        if columns is None:
            if row and _squash(row[0]).replace(" ", "") == "hcpcs/cptcode":
                columns, resolved = _columns(path, line, row)
                if setting is not None and NcciSetting(setting) is not resolved:
                    raise WrongFileError(
                        path,
                        line,
                        "header",
                        f"a {NcciSetting(setting).value} MUE table",
                        f"a {resolved.value} table",
                    )
            elif index >= HEADER_SEARCH_ROWS:
                break
            continue
        if not any(cell.strip() for cell in row):
            continue
        assert resolved is not None
        rows += 1
        yield _edit(path, line, row, columns, resolved)
    if columns is None:
        raise WrongFileError(
            path, None, "header", "an NCCI MUE CSV: a header row starting 'HCPCS/CPT Code'", None
        )
    if rows == 0:
        raise ParseError(
            path, start, "rows", "at least one code row after the header (file cut short?)", None
        )


def _edit(path: Path, line: int, row: list[str], columns: dict[str, int], setting: NcciSetting) -> MueEdit:
    if len(row) <= max(columns.values()):
        raise ParseError(
            path,
            line,
            "row",
            f"at least {max(columns.values()) + 1} comma-separated fields",
            f"{len(row)} fields: {row!r}",
        )
    code = row[columns["code"]].strip()
    if not PROCEDURE_CODE.fullmatch(code):
        raise ParseError(path, line, "HCPCS/CPT code", "a 5-character CPT or HCPCS code", code)
    value = row[columns["value"]].strip()
    if not value.isdigit():
        raise ParseError(path, line, "MUE value", "a whole number of units", value)
    mai_text = " ".join(row[columns["mai"]].split())
    match = _MAI.fullmatch(mai_text)
    if match is None or int(match.group(1)) not in ADJUDICATION_INDICATORS:
        raise ParseError(path, line, "MUE adjudication indicator", "text starting with 1, 2 or 3", mai_text)
    rationale = " ".join(row[columns["rationale"]].split())
    if len(rationale) > MAX_RATIONALE_CHARS:
        raise ParseError(path, line, "MUE rationale", f"at most {MAX_RATIONALE_CHARS:,} characters",
                         f"{len(rationale):,} characters")
    return MueEdit(
        code,
        setting,
        int(value),
        int(match.group(1)),
        mai_text,
        rationale,
        str(path),
        line,
    )
