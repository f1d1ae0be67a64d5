"""IPPS Table 6K: CC/MCC designations, PDX collections (sizes checked), alive-only, DRG-specific."""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.errors import ParseError, WrongFileError
from loaders.msdrg_tables.cc_exclusions import (
    AliveOnlyMcc,
    CcDesignation,
    CcExclusionRecord,
    DrgSpecificExclusion,
    PdxExclusionMember,
    read_cc_exclusions,
)

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "msdrg" / "table6k_fy2026_sample.txt"


def _records(path: Path = SAMPLE) -> list[CcExclusionRecord]:
    return list(read_cc_exclusions(path))


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "table6k.txt"
    path.write_bytes(SAMPLE.read_bytes().replace(old.encode(), new.encode()))
    return path


def test_designations_carry_level_collection_and_dotted_code() -> None:
    rows = {r.code: r for r in _records() if isinstance(r, CcDesignation)}
    assert len(rows) == 6
    assert (rows["A00.0"].level, rows["A00.0"].collection, rows["A00.0"].collection_size) == ("CC", "0002", 3)
    assert (rows["T79.4XXA"].level, rows["T79.4XXA"].line) == ("MCC", 17)
    assert rows["A02.8"].collection_size == 1  # "1 code", singular


def test_no_excl_means_no_principal_diagnosis_cancels_the_cc() -> None:
    row = next(r for r in _records() if isinstance(r, CcDesignation) and r.code == "D89.833")
    assert (row.collection, row.collection_size) == (None, None)


def test_collection_members_are_the_principal_diagnoses_that_cancel_it() -> None:
    members = [r for r in _records() if isinstance(r, PdxExclusionMember)]
    assert [m.pdx_code for m in members if m.collection == "0002"] == ["A00.0", "A00.1", "A00.9"]
    assert [m.pdx_code for m in members if m.collection == "1903"] == ["T79.4XXA", "T81.11XA"]


def test_part2_codes_count_only_when_discharged_alive() -> None:
    assert [r.code for r in _records() if isinstance(r, AliveOnlyMcc)] == ["I46.2", "T79.4XXA"]


def test_part3_codes_are_excluded_within_the_listed_drgs() -> None:
    rows = [r for r in _records() if isinstance(r, DrgSpecificExclusion)]
    assert [(r.code, r.mdc, r.drgs) for r in rows] == [
        ("I21.01", "05", ("280", "281", "282")),
        ("I22.9", "05", ("280", "281", "282")),
        ("C50.911", "09", ("582", "583")),
    ]
    assert rows[-1].drg_group == "Mastectomy for Malignancy"


def test_collection_shorter_than_part1_says_is_refused(tmp_path: Path) -> None:
    path = _variant(tmp_path, "  A009    Cholera, unspecified\r\n", "")
    with pytest.raises(ParseError, match="3 member codes") as err:
        list(read_cc_exclusions(path))
    assert (err.value.line, err.value.field) == (19, "PDX collection 0002")


def test_sizes_over_999_are_printed_with_a_comma(tmp_path: Path) -> None:
    path = _variant(tmp_path, "0002:3 codes     ", "0002:1,003 codes ")
    with pytest.raises(ParseError, match="1003 member codes"):  # read as 1003, then checked against the block
        list(read_cc_exclusions(path))


def test_collection_without_a_block_is_refused(tmp_path: Path) -> None:
    path = _variant(
        tmp_path, "PDX collection 0011\r\n  A028    Other specified salmonella infections\r\n", ""
    )
    with pytest.raises(ParseError, match="first 0011") as err:
        list(read_cc_exclusions(path))
    assert err.value.line == 14


@pytest.mark.parametrize(
    ("old", "new", "line", "field"),
    [
        (" A001    CC  0002", " A001    XC  0002", 13, "CC/MCC row"),
        ("  A009    Cholera, unspecified", "  A009", 22, "PDX code"),
        (
            "  T794XXA Traumatic shock, initial encounter\r\n\r\n\r\n\r\n",
            "  T79.4XXA Traumatic shock\r\n\r\n\r\n\r\n",
            40,
            "code",
        ),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path: Path, old: str, new: str, line: int, field: str) -> None:
    path = _variant(tmp_path, old, new)
    with pytest.raises(ParseError) as err:
        list(read_cc_exclusions(path))
    assert (err.value.file, err.value.line, err.value.field) == (str(path), line, field)


def test_file_cut_before_part3_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.txt"
    path.write_bytes(SAMPLE.read_bytes().split(b"K Part 3")[0])
    with pytest.raises(ParseError, match="cut short after Part 2"):
        list(read_cc_exclusions(path))


def test_cc_list_given_as_table6k_is_wrong_file() -> None:
    with pytest.raises(WrongFileError):
        list(read_cc_exclusions(SAMPLE.parent / "table6j_fy2026_sample.txt"))
