"""A bad ICD-10-CM file ends the load with a located error and leaves the graph as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from loaders.bundled import package_file
from loaders.errors import ParseError, WrongFileError
from loaders.registry import load_source
from ontology.vocabulary import L
from tests.conftest import graph_counts

REAL_XML = package_file("simple_icd_10_cm", "data", "icd10c-tabular-April-1-2026.xml")
PCS_TABLES = Path(__file__).resolve().parents[1] / "fixtures" / "icd10pcs" / "icd10pcs_tables_2024_sample.xml"


def _failed_run_error(driver: Driver, settings: Settings) -> str:
    records, _, _ = driver.execute_query(f"MATCH (r:{L.LoadRun} {{status: 'failed'}}) RETURN r.error AS e",
                                         database_=settings.neo4j_database)
    return records[0]["e"]


def _assert_unchanged(driver: Driver, settings: Settings, before: tuple[int, int]) -> None:
    nodes, rels = graph_counts(driver, settings.neo4j_database)
    assert (nodes - 1, rels) == before  # only the failed LoadRun record is new
    records, _, _ = driver.execute_query(f"MATCH (r:{L.Release}) RETURN count(r) AS n",
                                         database_=settings.neo4j_database)
    assert records[0]["n"] == 0


def test_truncated_tabular_xml(clean_graph: Driver, settings: Settings, tmp_path: Path) -> None:
    cut = tmp_path / "icd10cm-tabular-2026.xml"
    cut.write_bytes(REAL_XML.read_bytes()[:300_000])
    before = graph_counts(clean_graph, settings.neo4j_database)
    with pytest.raises(ParseError) as err:
        load_source(clean_graph, settings, "icd10cm", [cut], "FY2026")
    assert "icd10cm-tabular-2026.xml:" in str(err.value) and "truncated" in str(err.value)
    _assert_unchanged(clean_graph, settings, before)
    assert "icd10cm-tabular-2026.xml" in _failed_run_error(clean_graph, settings)


def test_mis_encoded_tabular_xml(clean_graph: Driver, settings: Settings, tmp_path: Path) -> None:
    data = REAL_XML.read_bytes()
    at = data.index(b"Cholera")
    bad = tmp_path / "icd10cm-tabular-2026.xml"
    bad.write_bytes(data[:at] + b"\xff\xfe" + data[at:])
    before = graph_counts(clean_graph, settings.neo4j_database)
    with pytest.raises(ParseError) as err:
        load_source(clean_graph, settings, "icd10cm", [bad], "FY2026")
    line = data[:at].count(b"\n") + 1
    assert f"icd10cm-tabular-2026.xml:{line}" in str(err.value)
    _assert_unchanged(clean_graph, settings, before)


def test_pcs_tables_given_to_the_icd10cm_loader(clean_graph: Driver, settings: Settings) -> None:
    before = graph_counts(clean_graph, settings.neo4j_database)
    with pytest.raises(WrongFileError) as err:
        load_source(clean_graph, settings, "icd10cm", [PCS_TABLES], "FY2026")
    assert "ICD10PCS.tabular" in str(err.value) and "<ICD10CM.tabular>" in str(err.value)
    _assert_unchanged(clean_graph, settings, before)


def test_a_missing_file_is_named(clean_graph: Driver, settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(Exception) as err:
        load_source(clean_graph, settings, "icd10cm", [tmp_path / "nope.xml"], "FY2026")
    assert "nope.xml" in str(err.value)
