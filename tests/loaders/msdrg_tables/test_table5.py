"""IPPS Table 5: weights found by header words, quoted titles, error DRGs without weights, refused rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.errors import ParseError, WrongFileError
from loaders.msdrg_tables.table5 import DrgWeightRow, read_table5

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "msdrg" / "table5_fy2026_sample.txt"


def _rows(path: Path = SAMPLE) -> dict[str, DrgWeightRow]:
    return {row.drg: row for row in read_table5(path)}


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "table5.txt"
    path.write_bytes(SAMPLE.read_bytes().replace(old.encode("cp1252"), new.encode("cp1252")))
    return path


def test_rows_start_after_a_title_spanning_two_lines() -> None:
    rows = list(read_table5(SAMPLE))
    assert [r.drg for r in rows] == ["001", "003", "010", "291", "470", "981", "998", "999"]
    assert rows[0].line == 4


def test_payment_weight_is_the_capped_one() -> None:
    pancreas = _rows()["010"]
    assert (pancreas.weight, pancreas.weight_before_cap) == (7.1757, 3.0699)


def test_quoted_title_with_commas_is_one_field() -> None:
    ecmo = _rows()["003"]
    assert ecmo.title.startswith("ECMO OR TRACHEOSTOMY") and "FACE, MOUTH AND NECK" in ecmo.title
    assert (ecmo.weight, ecmo.gmlos, ecmo.amlos) == (21.2252, 22.9, 33.0)


def test_flags_mdc_and_type() -> None:
    rows = _rows()
    assert (rows["291"].post_acute, rows["291"].special_pay, rows["291"].mdc, rows["291"].drg_type) == (
        True,
        False,
        "05",
        "MED",
    )
    assert rows["001"].mdc == "PRE"
    assert rows["981"].mdc is None and rows["981"].drg_type == "SURG"


def test_error_drgs_have_no_weight_or_los() -> None:
    ungroupable = _rows()["999"]
    assert ungroupable.drg_type == "**"
    assert (ungroupable.weight, ungroupable.weight_before_cap, ungroupable.gmlos, ungroupable.amlos) == (
        None,
        None,
        None,
        None,
    )


def test_single_weight_column_and_y_n_flags_from_an_older_layout(tmp_path: Path) -> None:
    text = SAMPLE.read_bytes().decode("cp1252")
    text = text.replace("Weights - Before Cap\tWeights - 10% Cap Applied ", "FY 2019 Final Rule Weights")
    lines = []
    for line in text.split("\r\n"):
        cells = line.split("\t")
        if len(cells) == 10 and cells[0][:1].isdigit():
            del cells[6]
            cells[1] = cells[1][0]
        lines.append("\t".join(cells))
    path = tmp_path / "table5_old.txt"
    path.write_bytes("\r\n".join(lines).encode("cp1252"))
    rows = _rows(path)
    assert (rows["010"].weight, rows["010"].weight_before_cap, rows["010"].post_acute) == (
        7.1757,
        None,
        False,
    )
    assert rows["291"].post_acute


def test_footnote_after_the_table_is_not_a_drg(tmp_path: Path) -> None:
    path = _variant(tmp_path, "\t" * 9 + "\r\n", "* Footnote: weights are sample values.\r\n")
    assert len(_rows(path)) == 8


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("291\tYes", "291\tMaybe", "post-acute DRG"),
        ("\t05\tMED", "\tX5\tMED", "MDC"),
        ("\t05\tMED", "\t05\tMEDICAL", "TYPE"),
        ("1.2955\t1.2955", "1.2955\t1,2955", "weight"),
        ("\t3.9\t4.9", "\tthree\t4.9", "geometric mean LOS"),
        ("291\tYes", "29\tYes", "MS-DRG"),
    ],
)
def test_bad_field_names_file_line_and_field(tmp_path: Path, old: str, new: str, field: str) -> None:
    path = _variant(tmp_path, old, new)
    with pytest.raises(ParseError) as err:
        list(read_table5(path))
    assert (err.value.file, err.value.line, err.value.field) == (str(path), 7, field)


def test_cc_list_given_as_table5_is_wrong_file() -> None:
    with pytest.raises(WrongFileError, match="MS-DRG"):
        list(read_table5(SAMPLE.parent / "table6j_fy2026_sample.txt"))


def test_header_without_los_columns_is_refused(tmp_path: Path) -> None:
    path = _variant(tmp_path, "Geometric mean LOS", "GM")
    with pytest.raises(ParseError, match="gmlos") as err:
        list(read_table5(path))
    assert (err.value.line, err.value.field) == (3, "header")


def test_file_cut_after_the_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.txt"
    path.write_bytes(SAMPLE.read_bytes().split(b"001\t")[0])
    with pytest.raises(ParseError, match="cut short"):
        list(read_table5(path))
