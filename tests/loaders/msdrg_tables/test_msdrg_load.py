"""The MS-DRG loader on the real FY2026 IPPS tables (loaded once for the module), and on bad files.

Counts and edges are checked against the CMS tables as parsed directly by the table parsers; bad files must
end the load with a located error and leave the graph as it was (only the failed LoadRun record is new).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from loaders.bundled import package_file
from loaders.errors import LoadError, ParseError, WrongFileError
from loaders.machinery.runs import RunLedger
from loaders.msdrg_tables.cc_exclusions import (
    AliveOnlyMcc,
    CcDesignation,
    DrgSpecificExclusion,
    PdxExclusionMember,
    read_cc_exclusions,
)
from loaders.msdrg_tables.table5 import read_table5
from loaders.registry import load_source
from ontology.check import check_graph
from ontology.vocabulary import L, R
from tests.conftest import graph_counts
from tests.graph_service.drg_claims import FY2026, ensure_msdrg_fy2026

CMS = package_file("drg", "data", "cms")
SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "msdrg"
MSDRG_TYPES = {L.MSDRG, L.MDC, L.SeverityDesignation, L.PDXExclusionCollection, R.IN_MDC, R.HAS_SEVERITY,
               R.EXCLUDED_WITH, R.IN_COLLECTION}


@pytest.fixture(scope="module")
def loaded(driver: Driver, settings: Settings) -> dict[str, Any]:
    return ensure_msdrg_fy2026(driver, settings)


@pytest.fixture(scope="module")
def table6k() -> list[Any]:
    return list(read_cc_exclusions(CMS / "cc_exclusions.txt"))


def read(driver: Driver, settings: Settings, cypher: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(cypher, params, database_=settings.neo4j_database)
    return [r.data() for r in records]


def test_load_counts_are_the_fy2026_tables(loaded: dict[str, Any]) -> None:
    assert loaded["drgs"] == 772 and loaded["drgs_with_weight"] == 770
    assert loaded["designations_mcc"] == 3_354 and loaded["designations_cc"] == 15_078
    assert loaded["pdx_collections"] == 1_994 and loaded["pdx_members"] == 180_403
    assert loaded["alive_only"] == 8 and loaded["designations_no_exclusion"] == 41
    assert loaded["drg_specific_exclusions"] == 6_188 and loaded["part2_3_codes_not_designated"] == 0
    assert loaded["grouper_version"] == 43 and loaded["mdcs"] == 26  # 01-25 and PRE
    assert loaded["pdx_members_rows_per_s"] > 0


def test_graph_holds_every_drg_with_its_weight(loaded: dict[str, Any], driver: Driver, settings: Settings) -> None:
    [row] = read(driver, settings, f"""
        MATCH (d:{L.MSDRG})-[:{R.IN_RELEASE}]->(:{L.Release} {{id: $release}})
        RETURN count(d) AS drgs, count(d.weight) AS weighted, collect(d.key)[0] AS key,
               [x IN collect(d) WHERE x.weight IS NULL | x.drg] AS unweighted""", release=FY2026)
    assert (row["drgs"], row["weighted"]) == (772, 770)
    assert sorted(row["unweighted"]) == ["998", "999"] and row["key"].startswith("v43|")


def test_drg_nodes_carry_table_5_and_their_mdc(loaded: dict[str, Any], driver: Driver, settings: Settings) -> None:
    table5 = {r.drg: r for r in read_table5(CMS / "drg_weights.txt")}
    rows = read(driver, settings, f"""
        MATCH (d:{L.MSDRG} {{version: '43'}})
        OPTIONAL MATCH (d)-[e:{R.IN_MDC}]->(m:{L.MDC})
        RETURN d {{.*}} AS d, m.mdc AS mdc, m.title AS mdc_title, e.release AS edge_release""")
    by_drg = {r["d"]["drg"]: r for r in rows}
    assert set(by_drg) == set(table5)
    for drg, row in table5.items():
        node = by_drg[drg]["d"]
        assert node["key"] == f"v43|{drg}" and node["title"] == row.title and node.get("weight") == row.weight
        assert node.get("gmlos") == row.gmlos and node["post_acute"] == row.post_acute
        assert by_drg[drg]["mdc"] == row.mdc  # no IN_MDC edge for 981-989, 998, 999
    hf = by_drg["291"]
    assert hf["d"]["type"] == "MED" and hf["d"]["weight"] == table5["291"].weight and hf["edge_release"] == FY2026
    assert hf["mdc_title"] == "Diseases and Disorders of the Circulatory System"
    assert by_drg["470"]["d"]["type"] == "SURG" and by_drg["001"]["mdc_title"] == "Pre-MDC"


def test_designations_and_exclusion_edges_equal_table_6k(loaded: dict[str, Any], table6k: list[Any],
                                                        driver: Driver, settings: Settings) -> None:
    designations = {(r.code, r.level, r.collection) for r in table6k if isinstance(r, CcDesignation)}
    rows = read(driver, settings, f"""
        MATCH (c:{L.ICD10CMCode})-[h:{R.HAS_SEVERITY} {{release: $release}}]->(s:{L.SeverityDesignation})
        OPTIONAL MATCH (s)-[:{R.EXCLUDED_WITH} {{release: $release}}]->(col:{L.PDXExclusionCollection})
        RETURN c.code AS code, s.code AS s_code, s.level AS level, s.key AS key, col.collection AS collection""",
        release=FY2026)
    assert {(r["code"], r["level"], r["collection"]) for r in rows} == designations
    assert all(r["code"] == r["s_code"] and r["key"] == f"v43|{r['code']}" for r in rows)
    members = {(r.collection, r.pdx_code) for r in table6k if isinstance(r, PdxExclusionMember)}
    edges = read(driver, settings, f"""
        MATCH (c:{L.ICD10CMCode})-[:{R.IN_COLLECTION} {{release: $release}}]->(col:{L.PDXExclusionCollection})
        RETURN col.collection AS collection, c.code AS code""", release=FY2026)
    assert len(edges) == 180_403 and {(e["collection"], e["code"]) for e in edges} == members


def test_alive_only_and_drg_specific_exclusions(loaded: dict[str, Any], table6k: list[Any], driver: Driver,
                                                settings: Settings) -> None:
    alive = {r.code for r in table6k if isinstance(r, AliveOnlyMcc)}
    rows = read(driver, settings, f"MATCH (s:{L.SeverityDesignation} {{version: '43', alive_only: true}}) "
                                  "RETURN s.code AS code")
    assert {r["code"] for r in rows} == alive and "I46.9" in alive
    part3: dict[str, set[str]] = {}
    for r in table6k:
        if isinstance(r, DrgSpecificExclusion):
            part3.setdefault(r.code, set()).update(r.drgs)
    rows = read(driver, settings, f"MATCH (s:{L.SeverityDesignation} {{version: '43'}}) "
                                  "WHERE s.excluded_in_drgs IS NOT NULL "
                                  "RETURN s.code AS code, s.excluded_in_drgs AS drgs, "
                                  "s.excluded_in_drg_groups AS groups")
    assert {r["code"]: set(r["drgs"]) for r in rows} == part3
    stemi = next(r for r in rows if r["code"] == "I21.02")
    assert {"280", "281", "282", "283", "284", "285"} <= set(stemi["drgs"])
    assert any(g.startswith("MDC 05 DRGs 280-282 Acute Myocardial Infarction") for g in stemi["groups"])


def test_release_window_grouper_version_and_code_nodes(loaded: dict[str, Any], driver: Driver,
                                                       settings: Settings) -> None:
    [rel] = read(driver, settings, f"MATCH (r:{L.Release} {{id: $id}}) RETURN r {{.*}} AS r", id=FY2026)
    r = rel["r"]
    assert (r["status"], r["grouper_version"], str(r["effective_from"]), str(r["effective_to"])) == (
        "visible", "43", "2025-10-01", "2026-10-01")
    assert "grouper version 43" in r["note"]
    [code] = read(driver, settings, f"MATCH (c:{L.Code} {{key: 'icd10cm|A00.0'}}) RETURN labels(c) AS labels, "
                                    "c.system AS system, c.code AS code")
    assert set(code["labels"]) >= {L.Code, L.ICD10CMCode} and (code["system"], code["code"]) == ("icd10cm", "A00.0")


def test_graph_conforms_to_the_ontology(loaded: dict[str, Any], driver: Driver, settings: Settings) -> None:
    mine = [v for v in check_graph(driver, settings.neo4j_database) if any(t in v.subject for t in MSDRG_TYPES)]
    assert mine == []


# ---- another fiscal year, and bad files ---------------------------------------------------------------
def _as_fy2027(tmp_path: Path, name: str = "table5_fy2027.txt") -> Path:
    copy = tmp_path / name
    copy.write_bytes((SAMPLES / "table5_fy2026_sample.txt").read_bytes().replace(b"FY 2026", b"FY 2027"))
    return copy


def _assert_unchanged(driver: Driver, settings: Settings, before: tuple[int, int]) -> None:
    nodes, rels = graph_counts(driver, settings.neo4j_database)
    assert (nodes - 1, rels) == before  # only the failed LoadRun record is new
    assert read(driver, settings, f"MATCH (r:{L.Release} {{id: 'msdrg@FY2027'}}) RETURN r") == []


def test_another_fiscal_year_loads_beside_with_its_own_grouper_version(
        loaded: dict[str, Any], driver: Driver, settings: Settings, tmp_path: Path) -> None:
    before = graph_counts(driver, settings.neo4j_database)
    report = load_source(driver, settings, "msdrg", [_as_fy2027(tmp_path), SAMPLES / "table6k_fy2026_sample.txt"],
                         "FY2027")
    try:
        assert report.counts["grouper_version"] == 44 and report.counts["drgs"] == 8  # the sample Table 5
        assert report.counts["part2_3_codes_not_designated"] == 3  # the sample's Part 3 codes are not in Part 1
        [row] = read(driver, settings, f"""
            MATCH (r:{L.Release} {{id: 'msdrg@FY2027'}})
            RETURN toString(r.effective_from) AS start, r.grouper_version AS version,
                   [(d:{L.MSDRG})-[:{R.IN_RELEASE}]->(r) | d.key] AS drgs,
                   [(c)-[:{R.IN_COLLECTION} {{release: r.id}}]->(:{L.PDXExclusionCollection} {{key: 'v44|0002'}})
                    | c.code] AS members""")
        assert (row["start"], row["version"]) == ("2026-10-01", "44") and "v44|001" in row["drgs"]
        assert sorted(row["members"]) == ["A00.0", "A00.1", "A00.9"]
        assert read(driver, settings, f"MATCH (d:{L.MSDRG} {{key: 'v43|001'}}) RETURN d.key AS k")  # FY2026 intact
    finally:
        RunLedger(driver, settings.neo4j_database).discard_run(report.run_id)
    assert graph_counts(driver, settings.neo4j_database) == (before[0] + 1, before[1])


def test_table_5_of_another_year_is_refused(loaded: dict[str, Any], driver: Driver, settings: Settings) -> None:
    before = graph_counts(driver, settings.neo4j_database)
    with pytest.raises(WrongFileError) as err:
        load_source(driver, settings, "msdrg", [CMS / "drg_weights.txt", SAMPLES / "table6k_fy2026_sample.txt"],
                    "FY2027")
    assert "drg_weights.txt:2" in str(err.value) and "FY 2027" in str(err.value) and "FY 2026" in str(err.value)
    _assert_unchanged(driver, settings, before)


def test_a_broken_table_6k_line_is_located(loaded: dict[str, Any], driver: Driver, settings: Settings,
                                           tmp_path: Path) -> None:
    bad = tmp_path / "table6k_broken.txt"
    bad.write_bytes((SAMPLES / "table6k_fy2026_sample.txt").read_bytes().replace(b" A028    CC  0011:1 code",
                                                                                  b" A028    XX  0011:1 code"))
    before = graph_counts(driver, settings.neo4j_database)
    with pytest.raises(ParseError) as err:
        load_source(driver, settings, "msdrg", [_as_fy2027(tmp_path), bad], "FY2027")
    assert "table6k_broken.txt:14" in str(err.value) and "CC/MCC row" in str(err.value)
    _assert_unchanged(driver, settings, before)


def test_a_cc_list_that_disagrees_with_table_6k_is_located(loaded: dict[str, Any], driver: Driver,
                                                          settings: Settings, tmp_path: Path) -> None:
    before = graph_counts(driver, settings.neo4j_database)
    with pytest.raises(ParseError) as err:
        load_source(driver, settings, "msdrg", [_as_fy2027(tmp_path), SAMPLES / "table6k_fy2026_sample.txt",
                                                SAMPLES / "table6j_fy2026_sample.txt"], "FY2027")
    assert "table6j_fy2026_sample.txt:5" in str(err.value) and "A00.9: not in Table 6K" in str(err.value)
    _assert_unchanged(driver, settings, before)


def test_a_release_without_table_6k_or_with_a_stranger_file(loaded: dict[str, Any], driver: Driver,
                                                            settings: Settings, tmp_path: Path) -> None:
    before = graph_counts(driver, settings.neo4j_database)
    with pytest.raises(LoadError, match="needs IPPS Table 5 and Table 6K; missing Table 6K"):
        load_source(driver, settings, "msdrg", [_as_fy2027(tmp_path)], "FY2027")
    _assert_unchanged(driver, settings, before)
    stranger = tmp_path / "notes.txt"
    stranger.write_text("minutes of the coding committee\n")
    with pytest.raises(WrongFileError, match=r"notes\.txt:1"):
        load_source(driver, settings, "msdrg", [_as_fy2027(tmp_path), stranger], "FY2027")
    nodes, rels = graph_counts(driver, settings.neo4j_database)
    assert (nodes - 2, rels) == before


def test_a_release_not_named_by_fiscal_year_is_refused(loaded: dict[str, Any], driver: Driver,
                                                       settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="FY<yyyy>"):
        load_source(driver, settings, "msdrg", [_as_fy2027(tmp_path)], "2026-10")
