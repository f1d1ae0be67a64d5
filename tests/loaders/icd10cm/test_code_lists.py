"""The flat ICD-10-CM lists: order file, codes file, drg CSV and simple_icd_10_cm's list."""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.errors import ParseError, WrongFileError
from loaders.icd10cm.code_lists import (
    Icd10cmListedCode,
    add_dot,
    detect_code_list_format,
    parse_code_list,
    parse_codes_file,
    parse_order_file,
    strip_dot,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "icd10cm"
ORDER = FIXTURES / "icd10cm-order-2026-excerpt.txt"
CODES = FIXTURES / "icd10cm-codes-2026-excerpt.txt"
DRG_CSV = FIXTURES / "drg-icd_10_cm-excerpt.csv"
SIMPLE = FIXTURES / "code-list-excerpt.txt"


def test_dot_goes_after_the_third_character() -> None:
    assert add_dot("A000") == "A00.0"
    assert add_dot("S020XXA") == "S02.0XXA"
    assert add_dot("B20") == "B20"
    assert add_dot("A00.0") == "A00.0"
    assert strip_dot("T36.0X1A") == "T360X1A"


@pytest.mark.parametrize(
    ("path", "kind"),
    [(ORDER, "order"), (CODES, "codes"), (DRG_CSV, "drg_csv"), (SIMPLE, "simple_list")],
)
def test_format_is_recognised_from_content(path: Path, kind: str, tmp_path: Path) -> None:
    renamed = tmp_path / "download.txt"  # the name says nothing
    renamed.write_bytes(path.read_bytes())
    assert detect_code_list_format(renamed) == kind


def test_order_file_gives_header_flag_order_number_and_long_title() -> None:
    rows = list(parse_order_file(ORDER))
    assert rows[0] == Icd10cmListedCode("A00", "Cholera", False, 1, 1)
    extended = rows[5]
    assert extended.code == "S02.0XXA" and extended.billable and extended.order_number == 6
    assert extended.title == "Fracture of vault of skull, initial encounter for closed fracture"
    assert sum(r.billable is True for r in rows) == 6


def test_codes_file_lists_billable_codes_with_titles() -> None:
    rows = list(parse_codes_file(CODES))
    assert [r.code for r in rows] == ["A00.0", "A00.9", "B20", "S02.0XXA", "S02.0XXB", "T36.0X1A"]
    assert all(r.billable for r in rows) and rows[2].title == "Human immunodeficiency virus [HIV] disease"


def test_drg_csv_and_codes_file_agree() -> None:
    assert list(parse_code_list(DRG_CSV)) == list(parse_code_list(CODES))


def test_simple_list_marks_leaves_billable_and_skips_chapters_and_sections() -> None:
    rows = {r.code: r for r in parse_code_list(SIMPLE)}
    assert list(rows) == ["A00", "A00.0", "A00.1", "A00.9", "B20", "S02", "S02.0", "S02.0XXA", "S02.0XXB"]
    assert [c for c, r in rows.items() if r.billable] == ["A00.0", "A00.1", "A00.9", "B20", "S02.0XXA", "S02.0XXB"]
    assert rows["B20"].line == 8  # line 7 is the one-category section "B20"


def test_pcs_codes_file_is_the_wrong_system() -> None:
    with pytest.raises(WrongFileError) as caught:
        detect_code_list_format(FIXTURES / "icd10pcs-codes-excerpt.txt")
    assert (caught.value.line, caught.value.field) == (1, "code") and "ICD-10-PCS" in str(caught.value)


def test_pcs_code_inside_a_cm_codes_file_is_refused_by_the_parser(tmp_path: Path) -> None:
    mixed = tmp_path / "icd10cm-codes-2026.txt"
    mixed.write_text(CODES.read_text() + "0016070 Bypass Cerebral Ventricle to Nasopharynx\n")
    with pytest.raises(WrongFileError) as caught:
        list(parse_codes_file(mixed))
    assert (caught.value.file, caught.value.line, caught.value.field) == (str(mixed), 7, "code")


def test_hcpcs_file_is_the_wrong_system() -> None:
    with pytest.raises(WrongFileError, match="HCPCS") as caught:
        detect_code_list_format(FIXTURES / "hcpcs-anweb-excerpt.txt")
    assert caught.value.line == 1 and caught.value.field == "record"


def test_binary_file_is_refused(tmp_path: Path) -> None:
    binary = tmp_path / "icd10cm-order-2026.txt"
    binary.write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00")
    with pytest.raises(WrongFileError) as caught:
        detect_code_list_format(binary)
    assert caught.value.line == 1 and caught.value.field == "bytes"


def test_mis_encoded_line_is_named(tmp_path: Path) -> None:
    latin1 = tmp_path / "icd10cm-codes-2026.txt"
    latin1.write_bytes(CODES.read_bytes().replace(b"Cholera, unspecified", "Choléra".encode("latin-1")))
    with pytest.raises(ParseError) as caught:
        list(parse_code_list(latin1))
    assert (caught.value.file, caught.value.line, caught.value.field) == (str(latin1), 2, "encoding")


def test_truncated_order_line_is_named(tmp_path: Path) -> None:
    truncated = tmp_path / "icd10cm-order-2026.txt"
    truncated.write_bytes(ORDER.read_bytes()[:-100])
    with pytest.raises(ParseError) as caught:
        list(parse_order_file(truncated))
    # Cut mid-line: the last line has no line ending (refused even where the cut line would still parse).
    assert (caught.value.line, caught.value.field) == (9, "line ending")
    assert "cut short mid-line" in str(caught.value)


def test_order_file_with_a_bad_flag_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "icd10cm-order-2026.txt"
    lines = ORDER.read_text().splitlines()
    lines[2] = lines[2][:14] + "Y" + lines[2][15:]
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(ParseError) as caught:
        list(parse_order_file(bad))
    assert (caught.value.line, caught.value.field) == (3, "record")


def test_xml_passed_as_code_list_is_refused() -> None:
    with pytest.raises(ParseError) as caught:
        detect_code_list_format(FIXTURES / "icd10cm-tabular-excerpt.xml")
    assert caught.value.line == 1
