"""The CMS conversion table becomes REPLACED_BY edges from each previous code to its successor."""

from __future__ import annotations

from pathlib import Path

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from loaders.errors import ParseError, WrongFileError
from loaders.icd10cm.conversion import read_conversion_table
from loaders.registry import load_source
from ontology.vocabulary import L, R
from tests.conftest import graph_counts

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "icd10cm"
TABLE = FIXTURES / "icd10cm-conversion-table-excerpt.txt"


def test_rows_read_with_years_excel_dates_lists_and_ranges() -> None:
    rows = {r.current: r for r in read_conversion_table(TABLE)}
    assert rows["C83.390"].previous == (("C83.39", None),) and rows["C83.390"].effective == "FY2025"
    assert rows["D57.04"].effective == "2023-10-01"  # Excel serial 45200
    assert rows["H02.10A"].previous == (("H02.101", "H02.106"),)
    assert rows["M51.360"].previous == (("M51.36", None), ("M51.37", None))


def test_a_file_without_the_header_is_the_wrong_file(tmp_path: Path) -> None:
    other = tmp_path / "codes.txt"
    other.write_text("A000    Cholera\n" * 30)
    with pytest.raises(WrongFileError):
        list(read_conversion_table(other))


def test_a_malformed_current_code_is_located(tmp_path: Path) -> None:
    bad = tmp_path / "conversion.txt"
    bad.write_text(TABLE.read_text() + "1Z3.4\t2025\tC83.39\n")
    with pytest.raises(ParseError) as err:
        list(read_conversion_table(bad))
    assert "conversion.txt:10" in str(err.value) and "current code" in str(err.value)


def test_previous_codes_point_to_their_successors_with_ranges_expanded(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    codes = tmp_path / "icd10cm-codes-2024.txt"
    codes.write_text("".join(f"{c:<7} Title {c}\n" for c in
                             ["C8339", "H02101", "H02102", "H02103", "H02104", "H02105", "H02106", "M5136", "E119"]))
    load_source(clean_graph, settings, "icd10cm", [codes], "FY2024")
    report = load_source(clean_graph, settings, "icd10cm_conversion", [TABLE], "FY2025")
    assert report.counts["replaced_by"] == 2 + 1 + 1 + 6 + 2
    records, _, _ = clean_graph.execute_query(
        f"MATCH (p:{L.Code})-[r:{R.REPLACED_BY}]->(c:{L.Code} {{code: 'H02.10A'}}) RETURN collect(p.code) AS prev, "
        "collect(DISTINCT r.basis) AS basis", database_=settings.neo4j_database)
    assert sorted(records[0]["prev"]) == [f"H02.10{i}" for i in range(1, 7)]
    assert records[0]["basis"] == ["CMS conversion table"]
    before = graph_counts(clean_graph, settings.neo4j_database)
    again = load_source(clean_graph, settings, "icd10cm_conversion", [TABLE], "FY2025")
    assert again.status == "unchanged"  # the very same file (sha256): recognised before anything is written
    assert graph_counts(clean_graph, settings.neo4j_database) == before
