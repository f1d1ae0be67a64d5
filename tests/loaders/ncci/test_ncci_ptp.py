"""NCCI PTP TXT tables: header found by content, part files, settings, date windows, refused rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from loaders.errors import ParseError, WrongFileError
from loaders.ncci.common import NcciSetting
from loaders.ncci.ptp import PtpEdit, read_ptp, read_ptp_files

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ncci"
PART1 = FIXTURES / "ccipra-v321r0-f1_sample.txt"
PART2 = FIXTURES / "ccipra-v321r0-f2_sample.txt"
OPH = FIXTURES / "ccioph-v321r0_sample.txt"


def _edits(*paths: Path) -> list[PtpEdit]:
    return list(read_ptp_files(paths))


def _pair(edits: list[PtpEdit], column1: str, column2: str) -> list[PtpEdit]:
    return [e for e in edits if (e.column1, e.column2) == (column1, column2)]


def _copy(tmp_path: Path, source: Path, edit: str = "", name: str | None = None, old: str = "") -> Path:
    path = tmp_path / (name or source.name)
    path.write_bytes(source.read_bytes().replace(old.encode(), edit.encode()) if old else source.read_bytes())
    return path


def test_part_files_read_in_order_as_one_practitioner_table() -> None:
    edits = _edits(PART1, PART2)
    assert len(edits) == 13
    assert {e.setting for e in edits} == {NcciSetting.PRACTITIONER}
    assert (edits[0].column1, edits[0].line) == ("11042", 7)  # banner, title and four header lines come first
    assert edits[-1].file == str(PART2)


def test_echo_bundles_doppler_and_color_flow_without_modifier_bypass() -> None:
    edits = _edits(PART1)
    assert {e.column2 for e in edits if e.column1 == "93306"} == {"93320", "93321", "93325"}
    assert all(e.modifier_indicator == 0 for e in edits if e.column1 == "93306")


def test_active_edit_has_no_deletion_date_and_deleted_edit_has_one() -> None:
    edits = _edits(PART1)
    assert _pair(edits, "93306", "93321")[0].deletion is None
    assert _pair(edits, "93306", "93325")[0].deletion == date(2015, 12, 31)


def test_pair_with_two_windows_keeps_both_rows_and_their_indicators() -> None:
    rows = _pair(_edits(PART2), "29881", "29877")
    assert [(r.effective, r.deletion, r.modifier_indicator) for r in rows] == [
        (date(1996, 1, 1), date(2008, 12, 31), 1),
        (date(2009, 1, 1), None, 0),
    ]
    assert rows[0].prior_1996 and not rows[1].prior_1996


def test_indicator_9_row_is_kept_as_not_applicable() -> None:
    row = _pair(_edits(PART1), "11042", "11045")[0]
    assert row.modifier_indicator == 9 and row.effective == row.deletion == date(2018, 1, 1)


def test_rationale_text_is_read_whole() -> None:
    assert _pair(_edits(PART2), "29881", "G0289")[0].rationale == "Standards of medical / surgical practice"


def test_outpatient_file_with_lf_and_longer_banner_is_outpatient_hospital() -> None:
    edits = list(read_ptp(OPH))
    assert len(edits) == 3 and edits[0].line == 8
    assert {e.setting for e in edits} == {NcciSetting.OUTPATIENT_HOSPITAL}


def test_setting_given_for_a_file_name_without_one(tmp_path: Path) -> None:
    path = _copy(tmp_path, PART1, name="ptp_edits.txt")
    assert {e.setting for e in read_ptp(path, "outpatient_hospital")} == {NcciSetting.OUTPATIENT_HOSPITAL}
    with pytest.raises(WrongFileError) as err:
        list(read_ptp(path))
    assert err.value.field == "setting"


def test_setting_that_contradicts_the_file_name_is_refused() -> None:
    with pytest.raises(WrongFileError, match="outpatient_hospital"):
        list(read_ptp(PART1, NcciSetting.OUTPATIENT_HOSPITAL))


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("20130101\t*\t1", "2013-01-01\t*\t1", "effective date"),
        ("20151231", "20151331", "deletion date"),
        ("20130101\t*\t1", "20130101\t*\t2", "modifier indicator"),
        ("99213\t36415", "9921\t36415", "column 1"),
        ("\t1\tMisuse of column two code with column one code\r\n", "\t1\r\n", "row"),
    ],
)
def test_bad_field_names_file_line_and_field(tmp_path: Path, old: str, new: str, field: str) -> None:
    path = _copy(tmp_path, PART1, new, old=old)
    with pytest.raises(ParseError) as err:
        list(read_ptp(path))
    assert (err.value.file, err.value.field) == (str(path), field)
    assert err.value.line in (13, 14)


def test_truncated_file_with_header_only_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ccipra-cut.txt"
    path.write_bytes(b"\r\n".join(PART1.read_bytes().split(b"\r\n")[:6]) + b"\r\n")
    with pytest.raises(ParseError, match="cut short"):
        list(read_ptp(path))


def test_mue_csv_given_to_ptp_parser_is_wrong_file() -> None:
    with pytest.raises(WrongFileError) as err:
        list(read_ptp(FIXTURES / "MCR_MUE_PractitionerServices_Eff_01-01-2025_sample.csv", "practitioner"))
    assert err.value.field == "header"


def test_utf16_file_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "ccipra-utf16.txt"
    path.write_bytes(PART1.read_text().encode("utf-16"))
    with pytest.raises(ParseError, match="UTF-16") as err:
        list(read_ptp(path))
    assert err.value.line == 1


def test_padded_cells_read_as_the_plain_row_does(tmp_path: Path) -> None:
    # A plain row takes the parser's one-pattern path; the same row with padded cells takes the cell-by-cell one.
    padded = _copy(tmp_path, PART1, " 27447 \t 20610\t \t20040101 \t*\t1 \tStandards of medical / surgical practice ",
                   old="27447\t20610\t\t20040101\t*\t1\tStandards of medical / surgical practice")
    plain = _pair(_edits(PART1), "27447", "20610")
    assert [e._replace(file="") for e in _pair(_edits(padded), "27447", "20610")] == \
        [e._replace(file="") for e in plain]


@pytest.mark.parametrize(
    ("new", "field", "expected"),
    [
        ("20110101\t20101231\t0\tMutually exclusive procedures", "deletion date", "on or after the effective date"),
        ("20110101\t*\t0\t" + "x" * 1001, "rationale", "at most 1,000 characters"),
    ],
)
def test_a_well_formed_row_with_a_wrong_value_is_refused(tmp_path: Path, new: str, field: str, expected: str) -> None:
    path = _copy(tmp_path, PART1, new, old="20110101\t*\t0\tMutually exclusive procedures")
    with pytest.raises(ParseError, match=expected) as err:
        list(read_ptp(path))
    assert (err.value.file, err.value.line, err.value.field) == (str(path), 7, field)
