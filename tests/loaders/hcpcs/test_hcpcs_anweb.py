"""HCPCS Level II ANWEB file: codes, modifiers, continuations, and the records it must refuse."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

from loaders.errors import ParseError, WrongFileError
from loaders.hcpcs.anweb import HcpcsCode, HcpcsModifier, read_hcpcs_anweb

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "hcpcs"
SAMPLE = FIXTURES / "HCPC2024_JAN_ANWEB_sample.txt"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_anweb_sample", FIXTURES / "make_anweb_sample.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


GEN = _generator()


def _codes(path: Path = SAMPLE) -> dict[str, HcpcsCode | HcpcsModifier]:
    return {record.code: record for record in read_hcpcs_anweb(path)}


def _write(tmp_path: Path, lines: list[str], ending: str = "\r\n") -> Path:
    path = tmp_path / "HCPC_ANWEB.txt"
    path.write_bytes("".join(line + ending for line in lines).encode("latin-1"))
    return path


def _line(entry_code: str, index: int = 0) -> str:
    entry = next(e for e in GEN.ENTRIES if e.code == entry_code)
    return GEN.anweb_records(entry)[index]


def test_committed_fixture_matches_its_generator() -> None:
    assert SAMPLE.read_bytes() == GEN.sample_text().encode("ascii")
    assert all(len(line) == 320 for line in SAMPLE.read_text().splitlines())


def test_sample_has_ten_codes_and_six_modifiers() -> None:
    records = list(read_hcpcs_anweb(SAMPLE))
    assert sum(isinstance(r, HcpcsCode) for r in records) == 10
    assert [r.code for r in records if isinstance(r, HcpcsModifier)] == ["25", "59", "GA", "LT", "RT", "XS"]


def test_continuation_lines_complete_the_long_description() -> None:
    crutches = _codes()["E0110"]
    assert crutches.long_description == ("Crutches, forearm, includes crutches of various materials, adjustable "
                                         "or fixed, pair, complete with tips and handgrips")
    assert crutches.line == 4
    strips = _codes()["A4253"]  # cut mid-word at column 80: "stri" + "ps"
    assert strips.long_description.endswith("per 50 strips")


def test_modifier_continuation_is_folded_in() -> None:
    waiver = _codes()["GA"]
    assert isinstance(waiver, HcpcsModifier)
    assert waiver.long_description.endswith("payer policy, individual case")
    assert waiver.short_description == "Waiver of liab stmt on file"


def test_detail_fields_come_from_the_first_record() -> None:
    crutches = _codes()["E0110"]
    assert isinstance(crutches, HcpcsCode)
    assert crutches.pricing_indicators == ("32",) and crutches.type_of_service == ("P", "R")
    assert (crutches.coverage_code, crutches.betos, crutches.action_code) == ("D", "D1B", "N")
    assert crutches.added_date == date(1984, 1, 1) and crutches.termination_date is None


def test_discontinued_code_has_termination_date_and_action_d() -> None:
    mammo = _codes()["G0202"]
    assert isinstance(mammo, HcpcsCode)
    assert mammo.action_code == "D" and mammo.termination_date == date(2017, 12, 31)


def test_lines_with_trailing_spaces_stripped_still_read(tmp_path: Path) -> None:
    path = tmp_path / "stripped.txt"
    path.write_text("".join(line.rstrip() + "\n" for line in SAMPLE.read_text().splitlines()))
    assert _codes(path) == _codes()


def test_shifted_fields_are_refused_not_misread(tmp_path: Path) -> None:
    shifted = " " + _line("J1100").rstrip()  # one column to the right
    with pytest.raises(ParseError) as err:
        list(read_hcpcs_anweb(_write(tmp_path, [shifted])))
    assert err.value.line == 1 and err.value.field in {"record id", "code"}


def test_overlong_record_names_line_and_length(tmp_path: Path) -> None:
    with pytest.raises(ParseError) as err:
        list(read_hcpcs_anweb(_write(tmp_path, [_line("J1100"), _line("Q4101") + "X"])))
    assert (err.value.line, err.value.field, err.value.found) == (2, "record", "321 characters")


def test_truncated_last_record_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.txt"
    path.write_text(_line("J1100") + "\r\n" + _line("Q4101")[:150])
    with pytest.raises(ParseError, match="cut short") as err:
        list(read_hcpcs_anweb(path))
    assert (err.value.file, err.value.line, err.value.field) == (str(path), 2, "record")


def test_first_record_cut_before_its_action_code_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParseError) as err:
        list(read_hcpcs_anweb(_write(tmp_path, [_line("J1100")[:200]])))
    assert (err.value.line, err.value.field) == (1, "action code")


def test_continuation_without_first_record_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParseError) as err:
        list(read_hcpcs_anweb(_write(tmp_path, [_line("E0110", 1)])))
    assert (err.value.line, err.value.field) == (1, "record id")


def test_continuation_of_another_code_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="J1100") as err:
        list(read_hcpcs_anweb(_write(tmp_path, [_line("J1100"), _line("E0110", 1)])))
    assert err.value.line == 2


def test_unknown_record_id_is_refused(tmp_path: Path) -> None:
    line = _line("J1100")
    with pytest.raises(ParseError) as err:
        list(read_hcpcs_anweb(_write(tmp_path, [line[:10] + "5" + line[11:]])))
    assert (err.value.line, err.value.field) == (1, "record id")


@pytest.mark.parametrize(("column", "value", "field"), [
    (269, "20241301", "added date"), (277, "2024-01-", "action effective date"), (285, "2O171231", "termination date"),
])
def test_bad_date_names_its_field(tmp_path: Path, column: int, value: str, field: str) -> None:
    line = _line("G0202")
    bad = line[: column - 1] + value + line[column + 7 :]
    with pytest.raises(ParseError) as err:
        list(read_hcpcs_anweb(_write(tmp_path, [bad])))
    assert (err.value.line, err.value.field, err.value.found) == (1, field, value)


def test_anesthesia_base_units_are_read_as_a_number(tmp_path: Path) -> None:
    entry = replace(next(e for e in GEN.ENTRIES if e.code == "G0008"), anesthesia_units="5")
    record = next(iter(read_hcpcs_anweb(_write(tmp_path, GEN.anweb_records(entry)))))
    assert isinstance(record, HcpcsCode) and record.anesthesia_base_units == 5


def test_mis_encoded_utf8_letter_shows_as_wrong_length(tmp_path: Path) -> None:
    line = _line("J1100").replace("Injection", "Injectión")[:320]
    path = tmp_path / "utf8.txt"
    path.write_bytes((line + "\r\n").encode("utf-8"))
    with pytest.raises(ParseError) as err:
        list(read_hcpcs_anweb(path))
    assert (err.value.line, err.value.field) == (1, "record")


def test_undecodable_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes((_line("J1100") + "\r\n").encode("ascii") + b"\x81" * 320 + b"\r\n")
    with pytest.raises(ParseError) as err:
        list(read_hcpcs_anweb(path))
    assert err.value.line == 2 and "cp1252" in err.value.expected


def test_cpt_code_in_place_of_hcpcs_is_wrong_system(tmp_path: Path) -> None:
    line = _line("J1100")
    with pytest.raises(WrongFileError, match="CPT") as err:
        list(read_hcpcs_anweb(_write(tmp_path, ["99213" + line[5:]])))
    assert err.value.field == "code"


def test_cpt_licensee_file_is_wrong_layout(tmp_path: Path) -> None:
    with pytest.raises(WrongFileError, match="tab-delimited"):
        list(read_hcpcs_anweb(_write(tmp_path, ["99213\tProcedure 99213 (placeholder text)"])))


def test_icd10pcs_codes_file_is_wrong_system(tmp_path: Path) -> None:
    with pytest.raises(WrongFileError, match="ICD-10"):
        list(read_hcpcs_anweb(_write(tmp_path, ["0016070 Bypass Cerebral Ventricle to Nasopharynx"])))


def test_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="empty"):
        list(read_hcpcs_anweb(_write(tmp_path, [])))
