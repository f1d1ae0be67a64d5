"""NCCI MUE CSV tables: multi-line notice and header, setting from the header, MAI digit, refused rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.errors import ParseError, WrongFileError
from loaders.ncci.common import NcciSetting
from loaders.ncci.mue import MueEdit, read_mue

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ncci"
PRACTITIONER = FIXTURES / "MCR_MUE_PractitionerServices_Eff_01-01-2025_sample.csv"
OUTPATIENT = FIXTURES / "MCR_MUE_OutpatientHospitalServices_Eff_01-01-2025_sample.csv"
DME = FIXTURES / "MCR_MUE_DMESupplierServices_Eff_01-01-2025_sample.csv"


def _by_code(path: Path) -> dict[str, MueEdit]:
    return {edit.code: edit for edit in read_mue(path)}


def test_rows_after_the_multiline_notice_and_header_carry_their_physical_line() -> None:
    edits = list(read_mue(PRACTITIONER))
    assert len(edits) == 7
    assert (edits[0].code, edits[0].line) == ("20610", 6)  # notice spans 3 lines, header 2


def test_mai_is_the_leading_digit_and_the_text_is_kept() -> None:
    edits = _by_code(PRACTITIONER)
    assert (edits["20610"].mai, edits["20610"].mai_text) == (1, "1 Line Edit")
    assert (edits["99213"].mai, edits["99213"].mai_text) == (3, "3 Date of Service Edit: Clinical")
    assert edits["27447"].mai == 2


def test_units_and_rationale_per_code() -> None:
    edits = _by_code(PRACTITIONER)
    assert (edits["J1100"].value, edits["J1100"].rationale) == (120, "Prescribing Information")
    assert edits["G0289"].rationale == "CMS Policy"


@pytest.mark.parametrize(
    ("path", "setting"),
    [
        (PRACTITIONER, NcciSetting.PRACTITIONER),
        (OUTPATIENT, NcciSetting.OUTPATIENT_HOSPITAL),
        (DME, NcciSetting.DME),
    ],
)
def test_setting_comes_from_the_values_header(path: Path, setting: NcciSetting) -> None:
    assert {edit.setting for edit in read_mue(path)} == {setting}


def test_expected_setting_that_differs_from_the_header_is_wrong_file() -> None:
    with pytest.raises(WrongFileError) as err:
        list(read_mue(DME, NcciSetting.PRACTITIONER))
    assert (err.value.line, err.value.field) == (4, "header")


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('27447,1,"2 Date', '27447,one,"2 Date', "MUE value"),
        ('27447,1,"2 Date', '27447,1,"4 Date', "MUE adjudication indicator"),
        ('27447,1,"2 Date', '2744,1,"2 Date', "HCPCS/CPT code"),
        ('27447,1,"2 Date of Service Edit: Policy",Anatomic Consideration', "27447,1", "row"),
    ],
)
def test_bad_field_names_file_line_and_field(tmp_path: Path, old: str, new: str, field: str) -> None:
    path = tmp_path / PRACTITIONER.name
    path.write_bytes(PRACTITIONER.read_bytes().replace(old.encode(), new.encode()))
    with pytest.raises(ParseError) as err:
        list(read_mue(path))
    assert (err.value.file, err.value.line, err.value.field) == (str(path), 7, field)


def test_ptp_table_given_to_mue_parser_is_wrong_file() -> None:
    with pytest.raises(WrongFileError, match="HCPCS/CPT Code"):
        list(read_mue(FIXTURES / "ccipra-v321r0-f1_sample.txt"))


def test_file_cut_after_the_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv"
    path.write_bytes(PRACTITIONER.read_bytes().split(b"20610")[0])
    with pytest.raises(ParseError, match="cut short"):
        list(read_mue(path))


def test_utf16_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "utf16.csv"
    path.write_bytes(PRACTITIONER.read_text().encode("utf-16"))
    with pytest.raises(ParseError, match="UTF-16"):
        list(read_mue(path))
