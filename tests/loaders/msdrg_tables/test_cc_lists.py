"""IPPS Tables 6I/6J: level from the title, dotted codes, notes section ignored, wrong files refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.errors import ParseError, WrongFileError
from loaders.msdrg_tables.cc_lists import read_cc_list

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "msdrg"
MCC = FIXTURES / "table6i_fy2026_sample.txt"
CC = FIXTURES / "table6j_fy2026_sample.txt"


def test_mcc_list_codes_are_dotted_and_marked_mcc() -> None:
    entries = list(read_cc_list(MCC))
    assert [e.code for e in entries] == ["A02.1", "I46.2", "R57.0", "T79.4XXA", "U07.1"]
    assert {e.level for e in entries} == {"MCC"}
    assert (entries[0].line, entries[0].description) == (3, "Salmonella sepsis")


def test_cc_list_stops_at_the_notes() -> None:
    entries = list(read_cc_list(CC, "CC"))
    assert len(entries) == 5 and entries[-1].code == "Z99.12"
    assert {e.level for e in entries} == {"CC"}


def test_cc_list_given_where_mcc_list_expected_is_wrong_file() -> None:
    with pytest.raises(WrongFileError) as err:
        list(read_cc_list(CC, "MCC"))
    assert (err.value.line, err.value.field) == (1, "title")


def test_table5_given_as_cc_list_is_wrong_file() -> None:
    with pytest.raises(WrongFileError):
        list(read_cc_list(FIXTURES / "table5_fy2026_sample.txt"))


def test_dotless_code_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "6j.txt"
    path.write_bytes(CC.read_bytes().replace(b"A00.9\t", b"A009\t"))
    with pytest.raises(ParseError) as err:
        list(read_cc_list(path))
    assert (err.value.file, err.value.line, err.value.field) == (str(path), 5, "diagnosis code")


def test_missing_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "6j.txt"
    path.write_bytes(CC.read_bytes().replace(b"Diagnosis Code\tDescription", b"Code Description"))
    with pytest.raises(ParseError) as err:
        list(read_cc_list(path))
    assert (err.value.line, err.value.field) == (2, "header")
