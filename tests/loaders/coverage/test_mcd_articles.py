"""MCD article download: tables read from the real layout, bad input named by file, line and field."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from loaders.coverage.mcd_articles import (
    iter_diagnosis_codes,
    iter_procedure_codes,
    pair_article_groups,
    read_mcd_article_export,
)
from loaders.errors import ParseError, WrongFileError

EXPORT = Path(__file__).parents[2] / "fixtures" / "coverage" / "mcd_article_export"


@pytest.fixture(scope="module")
def export():
    return read_mcd_article_export(EXPORT)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "export"
    shutil.copytree(EXPORT, target)
    return target


def test_reads_three_articles_with_prefix_dates_and_open_end(export) -> None:
    by_id = {a.article_id: a for a in export.articles}
    assert sorted(by_id) == [59001, 59002, 59003]
    echo = by_id[59001]
    assert (echo.display_id, echo.version, echo.status, echo.end) == ("A59001", 3, "A", None)
    assert str(echo.effective) == "2024-10-01"
    assert str(by_id[59003].end) == "2025-06-30"


def test_counts_codes_groups_and_asterisks(export) -> None:
    assert len(export.procedure_codes) == 14
    covered = [d for d in export.diagnosis_codes if d.kind == "covered"]
    noncovered = [d for d in export.diagnosis_codes if d.kind == "noncovered"]
    assert (len(covered), len(noncovered)) == (19, 2)
    assert sorted(d.code for d in covered if d.asterisk) == ["G83.4", "I48.91", "R06.00", "R07.9"]
    kinds = [g.kind for g in export.code_groups]
    assert (kinds.count("hcpc"), kinds.count("covered"), kinds.count("noncovered")) == (5, 5, 2)


def test_echo_article_lists_its_codes_dotted(export) -> None:
    echo = {d.code for d in export.diagnosis_codes if d.article_id == 59001 and d.kind == "covered"}
    assert echo == {"I50.9", "I50.22", "I35.0", "I21.4", "R06.00", "R07.9", "Q21.1"}
    assert [d.code for d in export.diagnosis_codes if d.article_id == 59001 and d.kind == "noncovered"] == [
        "Z00.00"
    ]
    assert {p.code for p in export.procedure_codes if p.article_id == 59001} == {"93306", "93307", "93308"}


def test_paragraph_html_is_plain_text_and_asterisk_text_kept(export) -> None:
    group = next(g for g in export.code_groups if g.article_id == 59001 and g.kind == "covered")
    assert "<" not in group.paragraph_text and "code available" in group.paragraph_text
    assert group.asterisk_text.startswith("* Symptom codes") and "&" in group.asterisk_text


def test_related_lcds_skip_article_links(export) -> None:
    assert [(r.article_id, r.lcd_id, r.lcd_version) for r in export.related_lcds] == [
        (59001, 39001, 4), (59002, 39001, 4), (59002, 39002, 1), (59003, 39003, 2),
    ]


def test_contractors_carry_active_jurisdiction_states(export) -> None:
    by_id = {c.contractor_id: c for c in export.contractors}
    assert by_id[901].states == ("NJ", "NY") and by_id[901].number == "90101"
    assert by_id[902].states == ("OR",)  # the NJ row has a term_date
    assert {(a.article_id, a.contractor_id) for a in export.article_contractors} == {
        (59001, 901), (59002, 901), (59002, 902), (59003, 902)
    }


def test_pairing_outcomes_for_the_three_articles(export) -> None:
    pairings = pair_article_groups(export.code_groups, export.procedure_codes, export.diagnosis_codes)
    assert pairings[59001, 3].status == "paired" and pairings[59001, 3].pairs == ((1, 1),)
    assert pairings[59002, 1].status == "paired" and pairings[59002, 1].pairs == ((1, 1), (2, 2))
    review = pairings[59003, 2]
    assert review.status == "needs_review" and review.pairs == ()
    assert "group 1" in review.reason


def test_reads_the_download_zip_holding_the_csv_zip(tmp_path: Path) -> None:
    inner = tmp_path / "current_article_csv.zip"
    with zipfile.ZipFile(inner, "w") as z:
        for f in EXPORT.iterdir():
            z.write(f, f.name)
    outer = tmp_path / "current_article.zip"
    with zipfile.ZipFile(outer, "w") as z:
        z.write(inner, inner.name)
        z.writestr("readme_first.txt", "x")
    assert len(read_mcd_article_export(outer).articles) == 3


def test_missing_required_column_names_file_and_column(copy: Path) -> None:
    path = copy / "article_x_hcpc_code.csv"
    path.write_text(path.read_text().replace('"hcpc_code_group"', '"hcpc_group"'))
    with pytest.raises(WrongFileError) as err:
        list(iter_procedure_codes(copy))
    assert err.value.file.endswith("article_x_hcpc_code.csv")
    assert (err.value.line, err.value.field) == (1, "hcpc_code_group")


def test_non_numeric_version_names_file_line_and_field(copy: Path) -> None:
    path = copy / "article_x_icd10_covered.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace('"59001","3"', '"59001","3a"', 1)
    path.write_text("".join(lines))
    with pytest.raises(ParseError) as err:
        list(iter_diagnosis_codes(copy))
    assert err.value.file.endswith("article_x_icd10_covered.csv")
    assert (err.value.line, err.value.field, err.value.found) == (4, "article_version", "3a")


def test_undotted_icd_code_is_refused(copy: Path) -> None:
    path = copy / "article_x_icd10_covered.csv"
    path.write_text(path.read_text().replace('"I50.22"', '"I5022"'))
    with pytest.raises(ParseError, match="dotted") as err:
        list(iter_diagnosis_codes(copy))
    assert err.value.field == "icd10_code_id" and err.value.line == 4


def test_truncated_row_is_named(copy: Path) -> None:
    path = copy / "article_x_hcpc_code.csv"
    path.write_text(path.read_text().rstrip("\r\n").rsplit(",", 3)[0] + "\r\n")
    with pytest.raises(ParseError, match="truncated") as err:
        list(iter_procedure_codes(copy))
    assert err.value.line == 15


def test_mis_encoded_file_names_the_line(copy: Path) -> None:
    path = copy / "article_x_hcpc_code.csv"
    path.write_bytes(path.read_bytes().replace(b"(placeholder text)", "(caf\u00e9)".encode("cp1252"), 1))
    with pytest.raises(ParseError, match="utf-8") as err:
        list(iter_procedure_codes(copy))
    assert err.value.file.endswith("article_x_hcpc_code.csv") and err.value.line == 2


def test_lcd_download_is_refused(tmp_path: Path) -> None:
    (tmp_path / "lcd.csv").write_text('"lcd_id","lcd_version"\r\n')
    with pytest.raises(WrongFileError, match="LCD download"):
        read_mcd_article_export(tmp_path)
