"""The ICD-10-PCS tables XML (``icd10pcs_tables_<FY>.xml``): tables, their rows, and the codes a row allows.

Root ``ICD10PCS.tabular`` → ``<version>`` and one ``<pcsTable>`` per 3-character stem. A table holds
``<axis pos="1|2|3">`` (``<title>``, one ``<label code>``; axis 3 adds the root operation's
``<definition>``) then ``<pcsRow codes="N">`` rows whose ``<axis pos="4..7">`` hold one or more labels.
A row allows every combination of its labels appended to the stem; ``codes`` is that count (a checksum).
Axis titles differ by section (section B position 4 is "Body Part", position 5 "Contrast"): they are
always read from the file, never assumed.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from loaders.errors import ParseError, WrongFileError
from loaders.icd10pcs.code_lists import PCS_CHAR, PCS_SECTIONS
from loaders.input_checks import RepeatedKeys, check_width
from loaders.xml_safety import safe_iterparse, xml_path

_PCS_CHAR = re.compile(PCS_CHAR)
ROOT_TAG = "ICD10PCS.tabular"
# Documented caps (the FY2024 file: ~900 tables, labels under 100 characters, nesting 5 deep, ~15 MB).
MAX_WIDTH = {"title": 1_000, "label": 1_000, "definition": 4_000}
MAX_DEPTH = 16
MAX_FILE_BYTES = 128 << 20


@dataclass(frozen=True, slots=True)
class PcsAxisValue:
    """Position 1, 2 or 3 of a table: the one value the whole table shares."""

    pos: int
    title: str
    code: str
    label: str
    definition: str | None  # the root operation's definition (axis 3 of most sections)


@dataclass(frozen=True, slots=True)
class PcsTable:
    stem: str
    axes: tuple[PcsAxisValue, ...]  # positions 1..3
    line: int


@dataclass(frozen=True, slots=True)
class PcsLabel:
    code: str
    label: str


@dataclass(frozen=True, slots=True)
class PcsAxisOption:
    """Position 4..7 within one row: the values that row allows there."""

    pos: int
    title: str
    labels: tuple[PcsLabel, ...]


@dataclass(frozen=True, slots=True)
class PcsTableRow:
    stem: str
    row_index: int  # 1-based within its table
    axes: tuple[PcsAxisOption, ...]  # positions 4..7
    expected_codes: int  # the row's ``codes`` attribute
    line: int


@dataclass(frozen=True, slots=True)
class PcsCodeValue:
    pos: int
    axis_title: str
    char: str
    label: str


@dataclass(frozen=True, slots=True)
class PcsCodeAxes:
    """A valid code with the meaning of each of its 7 characters."""

    code: str
    values: tuple[PcsCodeValue, ...]


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if _local(child) == name]


def _text(path: Path, element: etree._Element, name: str, what: str) -> str:
    found = _children(element, name)
    text = " ".join("".join(found[0].itertext()).split()) if found else ""
    if not text:
        raise ParseError(path, element.sourceline, name, f"<{name}> with {what}", None)
    return text


def _position(path: Path, axis: etree._Element, allowed: range) -> int:
    raw = axis.get("pos", "")
    if not raw.isdigit() or int(raw) not in allowed:
        raise ParseError(path, axis.sourceline, "axis/@pos", f"a position {allowed.start}..{allowed.stop - 1}", raw)
    return int(raw)


def _labels(path: Path, axis: etree._Element) -> tuple[PcsLabel, ...]:
    labels = []
    for label in _children(axis, "label"):
        code = label.get("code", "")
        if not _PCS_CHAR.fullmatch(code):
            raise ParseError(path, label.sourceline, "label/@code", "one PCS character (0-9, A-Z without I/O)", code)
        labels.append(PcsLabel(code, " ".join("".join(label.itertext()).split())))
    declared = axis.get("values")
    if not labels or (declared is not None and declared != str(len(labels))):
        raise ParseError(path, axis.sourceline, "axis/@values", f"{declared or 'at least 1'} <label> elements",
                         str(len(labels)))
    return tuple(labels)


def _table(path: Path, element: etree._Element) -> tuple[PcsTable, list[PcsTableRow]]:
    axes = []
    for axis in _children(element, "axis"):
        pos = _position(path, axis, range(1, 4))
        labels = _labels(path, axis)
        if len(labels) != 1:
            raise ParseError(path, axis.sourceline, "axis/label", f"exactly one label at table position {pos}",
                             str(len(labels)))
        definitions = [" ".join("".join(found.itertext()).split()) for found in _children(axis, "definition")]
        axes.append(PcsAxisValue(pos, _text(path, axis, "title", "the axis name"), labels[0].code, labels[0].label,
                                 definitions[0] if definitions and definitions[0] else None))
    if [axis.pos for axis in axes] != [1, 2, 3]:
        raise ParseError(path, element.sourceline, "pcsTable/axis", "axes at positions 1, 2, 3 in order",
                         ",".join(str(axis.pos) for axis in axes))
    stem = "".join(axis.code for axis in axes)
    if stem[0] not in PCS_SECTIONS:
        raise ParseError(path, element.sourceline, "axis/label/@code", "a PCS section character at position 1", stem)
    rows = []
    for index, row in enumerate(_children(element, "pcsRow"), start=1):
        options = tuple(PcsAxisOption(_position(path, axis, range(4, 8)), _text(path, axis, "title", "the axis name"),
                                      _labels(path, axis)) for axis in _children(row, "axis"))
        if [option.pos for option in options] != [4, 5, 6, 7]:
            raise ParseError(path, row.sourceline, "pcsRow/axis", "axes at positions 4, 5, 6, 7 in order",
                             ",".join(str(option.pos) for option in options))
        codes = row.get("codes", "")
        if not codes.isdigit():
            raise ParseError(path, row.sourceline, "pcsRow/@codes", "the row's code count", codes)
        parsed = PcsTableRow(stem, index, options, int(codes), row.sourceline or 0)
        _check_count(path, parsed)
        rows.append(parsed)
    if not rows:
        raise ParseError(path, element.sourceline, "pcsRow", f"at least one row in table {stem}", "none")
    return PcsTable(stem, tuple(axes), element.sourceline or 0), rows


def _check_count(source: str | Path, row: PcsTableRow) -> None:
    combinations = math.prod(len(option.labels) for option in row.axes)
    if combinations != row.expected_codes:
        raise ParseError(source, row.line, "pcsRow/@codes",
                         f"the count of label combinations in axes 4-7 ({combinations})", str(row.expected_codes))


def _events(path: Path) -> Iterator[tuple[str, etree._Element]]:
    # No entity resolved, no DOCTYPE, depth and size capped (loaders/xml_safety.py).
    yield from safe_iterparse(path, max_bytes=MAX_FILE_BYTES, max_depth=MAX_DEPTH, what="ICD-10-PCS tables XML",
                              remove_comments=True)


def _stem_of(element: etree._Element) -> str:
    """The table's stem as far as its axes 1-3 say (for naming the table in an error)."""
    codes = [label.get("code", "?") for axis in _children(element, "axis") for label in _children(axis, "label")[:1]]
    return "".join(codes[:3]) or "?"


def _checked_table(path: Path, element: etree._Element) -> tuple[PcsTable, list[PcsTableRow]]:
    """``_table`` with field widths checked and every error naming the table (``table 0P2: …``)."""
    try:
        for part in element.iter(*MAX_WIDTH):
            text = " ".join("".join(part.itertext()).split())
            if len(text) > MAX_WIDTH[_local(part)]:
                check_width(path, part.sourceline, xml_path(part), text, MAX_WIDTH[_local(part)])
        return _table(path, element)
    except ParseError as err:
        if err.field and err.field.startswith("table "):
            raise
        stem = _stem_of(element)
        raise ParseError(err.file, err.line, f"table {stem} {err.field or 'pcsTable'}", err.expected,
                         err.found) from err


def read_pcs_tables(path: Path) -> Iterator[PcsTable | PcsTableRow]:
    """Yield each table, then its rows, in file order; streams the file table by table."""
    root_seen = False
    tables: RepeatedKeys[str, tuple[object, ...]] = RepeatedKeys("table", "pcsTable",
                                                               describe=lambda _v: "other axes or rows")
    for event, element in _events(path):
        if not root_seen:
            root_seen = True
            if _local(element) != ROOT_TAG:
                hint = " (use the ICD-10-CM tabular loader)" if _local(element) == "ICD10CM.tabular" else ""
                raise WrongFileError(path, element.sourceline, "root", f"<{ROOT_TAG}> (PCS tables XML){hint}",
                                     _local(element))
            continue
        if event == "end" and _local(element) == "pcsTable":
            table, rows = _checked_table(path, element)
            content = (table.axes, *((row.axes, row.expected_codes) for row in rows))
            if tables.first(table.stem, content, path, table.line, field_name=f"table {table.stem} pcsTable"):
                yield table
                yield from rows
            element.clear()  # keep memory flat over ~900 tables
            while element.getprevious() is not None:
                del element.getparent()[0]


def pcs_tables_version(path: Path) -> str | None:
    """The text of the file's ``<version>`` (e.g. "2024"), or None when it has none before the first table."""
    for event, element in _events(path):
        if event == "end" and _local(element) == "version":
            return (element.text or "").strip() or None
        if event == "start" and _local(element) == "pcsTable":
            return None
    return None


def expand_row(table: PcsTable, row: PcsTableRow, source: str | Path = "ICD-10-PCS tables") -> Iterator[PcsCodeAxes]:
    """Every code the row allows, in label order, each with the meaning of its 7 characters.

    Raises ParseError when the row's ``codes`` count does not match the combinations (``source`` names the file).
    """
    if row.stem != table.stem:
        raise ValueError(f"row of table {row.stem} expanded with table {table.stem}")
    _check_count(source, row)
    fixed = tuple(PcsCodeValue(axis.pos, axis.title, axis.code, axis.label) for axis in table.axes)
    choices = [[PcsCodeValue(option.pos, option.title, label.code, label.label) for label in option.labels]
               for option in row.axes]
    for combination in itertools.product(*choices):
        values = fixed + combination
        yield PcsCodeAxes("".join(value.char for value in values), values)


def read_pcs_codes_from_tables(path: Path) -> Iterator[PcsCodeAxes]:
    """Every valid code the tables file defines (expands each row against its table)."""
    table: PcsTable | None = None
    for record in read_pcs_tables(path):
        if isinstance(record, PcsTable):
            table = record
        elif table is not None:
            yield from expand_row(table, record, path)
