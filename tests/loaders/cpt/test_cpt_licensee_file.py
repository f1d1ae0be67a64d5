"""CPT licensee file: code forms, configurable columns, and the files it must refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.cpt.licensee_file import CptCode, CptFileLayout, cpt_category, read_cpt_file
from loaders.errors import ParseError, WrongFileError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cpt"
LONGULT = FIXTURES / "LONGULT_sample.txt"


def test_default_layout_reads_code_and_long_descriptor() -> None:
    codes = list(read_cpt_file(LONGULT))
    assert len(codes) == 10
    first = codes[0]
    assert (first.code, first.category, first.line) == ("99213", "I", 1)
    assert first.descriptor("long") == "Procedure 99213 (placeholder text, not the AMA descriptor)"
    assert first.descriptor("short") is None


def test_each_code_form_gets_its_category() -> None:
    by_code = {c.code: c.category for c in read_cpt_file(LONGULT)}
    assert (by_code["27447"], by_code["3074F"], by_code["0042T"], by_code["0001U"]) == ("I", "II", "III", "PLA")


def test_records_are_hashable() -> None:
    assert len(set(read_cpt_file(LONGULT))) == 10


@pytest.mark.parametrize("code", ["9921", "992134", "0001X", "A0428", "3074f", "0042 T"])
def test_cpt_category_refuses_other_forms(code: str) -> None:
    assert cpt_category(code) is None


def test_layout_with_header_and_several_descriptor_columns(tmp_path: Path) -> None:
    path = tmp_path / "cpt.tsv"
    path.write_text("CODE\tSHORT\tMEDIUM\n99213\tShort 99213 (placeholder)\tMedium 99213 (placeholder)\n")
    layout = CptFileLayout(descriptor_columns={"medium": 2, "short": 1}, has_header=True)
    (code,) = read_cpt_file(path, layout)
    assert code == CptCode("99213", "I", (("short", "Short 99213 (placeholder)"),
                                          ("medium", "Medium 99213 (placeholder)")), 2)
    assert hash(layout) == hash(CptFileLayout(descriptor_columns=(("short", 1), ("medium", 2)), has_header=True))


def test_header_row_without_has_header_says_so(tmp_path: Path) -> None:
    path = tmp_path / "cpt.tsv"
    path.write_text("CODE\tDESCRIPTOR\n99213\tProcedure 99213 (placeholder)\n")
    with pytest.raises(ParseError, match="has_header") as err:
        list(read_cpt_file(path))
    assert (err.value.line, err.value.field) == (1, "code")


def test_hcpcs_code_is_refused_with_a_pointer_to_the_hcpcs_loader(tmp_path: Path) -> None:
    path = tmp_path / "cpt.txt"
    path.write_text("99213\tProcedure 99213 (placeholder)\nA0428\tAmbulance service, basic life support\n")
    with pytest.raises(WrongFileError, match="HCPCS") as err:
        list(read_cpt_file(path))
    assert (err.value.file, err.value.line, err.value.field) == (str(path), 2, "code")


def test_fixed_width_file_is_refused_as_wrong_layout(tmp_path: Path) -> None:
    path = tmp_path / "anweb.txt"
    path.write_text("A0021001003Ambulance service, outside state per mile, transport (medicaid only)".ljust(320) + "\n")
    with pytest.raises(WrongFileError) as err:
        list(read_cpt_file(path))
    assert err.value.line == 1


def test_code_with_leading_zero_lost_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cpt.txt"
    path.write_text("1234\tProcedure 01234 after a spreadsheet dropped the zero\n")
    with pytest.raises(ParseError) as err:
        list(read_cpt_file(path))
    assert (err.value.line, err.value.field, err.value.found) == (1, "code", "1234")


def test_missing_descriptor_column_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "cpt.txt"
    path.write_text("99213\tProcedure 99213 (placeholder)\n99214\n")
    with pytest.raises(ParseError) as err:
        list(read_cpt_file(path))
    assert (err.value.line, err.value.field) == (2, "columns")


def test_empty_descriptor_names_its_kind(tmp_path: Path) -> None:
    path = tmp_path / "cpt.txt"
    path.write_text("99213\t  \n")
    with pytest.raises(ParseError) as err:
        list(read_cpt_file(path))
    assert (err.value.line, err.value.field) == (1, "long")


def test_mis_encoded_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "cpt.txt"
    path.write_bytes(b"99213\tProcedure 99213 (placeholder)\r\n99214\tProc\xe9dure 99214\r\n")
    with pytest.raises(ParseError) as err:
        list(read_cpt_file(path))
    assert err.value.line == 2 and "utf-8" in err.value.expected
    assert [c.code for c in read_cpt_file(path, CptFileLayout(encoding="latin-1"))] == ["99213", "99214"]


def test_bom_crlf_and_blank_lines_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "cpt.txt"
    path.write_bytes(b"\xef\xbb\xbf99213\tProcedure 99213 (placeholder)\r\n\r\n0001U\tLab 0001U (placeholder)\r\n")
    assert [(c.code, c.line) for c in read_cpt_file(path)] == [("99213", 1), ("0001U", 3)]
