"""ICD-10-PCS tables XML: tables, rows, expansion into codes, and the files it must refuse."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from loaders.errors import ParseError, WrongFileError
from loaders.icd10pcs.code_lists import read_pcs_codes_file
from loaders.icd10pcs.tables_xml import (
    PcsTable,
    PcsTableRow,
    expand_row,
    pcs_tables_version,
    read_pcs_codes_from_tables,
    read_pcs_tables,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "icd10pcs"
TABLES = FIXTURES / "icd10pcs_tables_2024_sample.xml"


def _records() -> list[PcsTable | PcsTableRow]:
    return list(read_pcs_tables(TABLES))


def test_tables_come_with_their_rows_in_file_order() -> None:
    records = _records()
    assert [(type(r).__name__, r.stem) for r in records] == [
        ("PcsTable", "02H"), ("PcsTableRow", "02H"), ("PcsTableRow", "02H"), ("PcsTableRow", "02H"),
        ("PcsTable", "B24"), ("PcsTableRow", "B24"), ("PcsTableRow", "B24"),
    ]
    assert pcs_tables_version(TABLES) == "2024"


def test_root_operation_carries_its_definition() -> None:
    insertion = _records()[0]
    assert isinstance(insertion, PcsTable)
    operation = insertion.axes[2]
    assert (operation.pos, operation.title, operation.code, operation.label) == (3, "Operation", "H", "Insertion")
    assert operation.definition is not None and operation.definition.startswith("Putting in a nonbiological")
    assert insertion.axes[0].definition is None


def test_imaging_axis_titles_are_read_not_assumed() -> None:
    records = _records()
    imaging = records[4]
    assert isinstance(imaging, PcsTable) and [a.title for a in imaging.axes] == ["Section", "Body System", "Type"]
    row = records[5]
    assert isinstance(row, PcsTableRow)
    assert [a.title for a in row.axes] == ["Body Part", "Contrast", "Qualifier", "Qualifier"]


def test_expanded_code_names_each_character() -> None:
    table, row = _records()[:2]
    assert isinstance(table, PcsTable) and isinstance(row, PcsTableRow)
    codes = {c.code: c for c in expand_row(table, row)}
    assert len(codes) == row.expected_codes == 12
    lead = codes["02HK3JZ"]
    assert [(v.pos, v.axis_title, v.char, v.label) for v in lead.values][3:] == [
        (4, "Body Part", "K", "Ventricle, Right"), (5, "Approach", "3", "Percutaneous"),
        (6, "Device", "J", "Cardiac Lead, Pacemaker"), (7, "Qualifier", "Z", "No Qualifier"),
    ]


def test_every_expanded_code_is_in_the_fy2024_codes_file() -> None:
    expanded = {c.code for c in read_pcs_codes_from_tables(TABLES)}
    assert len(expanded) == 12 + 6 + 9 + 8 + 24
    listed = {r.code for r in read_pcs_codes_file(FIXTURES / "icd10pcs_codes_2024_sample.txt")}
    assert {"02HK3JZ", "02HL3KZ", "B246ZZ4"} <= listed & expanded


def test_codes_count_that_disagrees_with_labels_names_the_row_line(tmp_path: Path) -> None:
    path = tmp_path / "tables.xml"
    path.write_text(TABLES.read_text().replace('<pcsRow codes="6">', '<pcsRow codes="7">'))
    with pytest.raises(ParseError) as err:
        list(read_pcs_tables(path))
    assert (err.value.file, err.value.line, err.value.field) == (str(path), 41, "table 02H pcsRow/@codes")


def test_expand_row_checks_the_count_of_a_hand_made_row() -> None:
    table, row = _records()[:2]
    assert isinstance(table, PcsTable) and isinstance(row, PcsTableRow)
    with pytest.raises(ParseError, match="12"):
        list(expand_row(table, replace(row, expected_codes=13), "tables.xml"))


def test_truncated_xml_names_a_line(tmp_path: Path) -> None:
    path = tmp_path / "tables.xml"
    path.write_text(TABLES.read_text()[:3000])
    with pytest.raises(ParseError) as err:
        list(read_pcs_tables(path))
    assert err.value.field == "xml" and err.value.line is not None


def test_mis_encoded_xml_is_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "tables.xml"
    path.write_bytes(TABLES.read_bytes().replace(b"Insertion</label>", b"Insert\xe9on</label>"))
    with pytest.raises(ParseError) as err:
        list(read_pcs_tables(path))
    assert err.value.line == 16


def test_icd10cm_tabular_is_refused_as_wrong_system(tmp_path: Path) -> None:
    path = tmp_path / "icd10cm_tabular.xml"
    path.write_text("<ICD10CM.tabular><version>2024</version></ICD10CM.tabular>")
    with pytest.raises(WrongFileError, match="ICD-10-CM") as err:
        list(read_pcs_tables(path))
    assert err.value.field == "root"


def test_label_with_letter_o_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tables.xml"
    path.write_text(TABLES.read_text().replace('<label code="K">Ventricle, Right', '<label code="O">Ventricle, Right'))
    with pytest.raises(ParseError) as err:
        list(read_pcs_tables(path))
    assert err.value.field == "table 02H label/@code" and err.value.line == 22


def test_unknown_elements_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "tables.xml"
    path.write_text(TABLES.read_text().replace("<version>2024</version>", "<version>2024</version><note>x</note>"))
    assert len(list(read_pcs_tables(path))) == 7
