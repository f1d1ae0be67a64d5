"""A release that proves wrong is retracted over the API (maintainers only) and stops being served at once; it and
its load runs stay for audit, the assignments checked against it are listed, and corrected files load under the
same id. The impact of a new release is computed: what uses the codes it deletes, in the same words as the diff
and ``queries/release_impact.cypher``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from graph_service.app import create_app
from loaders.bundled import package_file
from loaders.icd10cm.code_lists import read_code_list
from loaders.machinery.release_diff import IMPACT_KINDS, diff_releases
from loaders.machinery.runs import RunLedger
from loaders.registry import load_source
from ontology.release_ranges import code_scope, members
from ontology.vocabulary import L, R

REPO = Path(__file__).resolve().parents[2]
INPATIENT = json.loads((REPO / "tests" / "fixtures" / "fhir" / "inpatient_heart_failure.json").read_text())
# The codes the fixture's 2024-02-10 stay uses, and real codes and titles around them (the CMS FY2025 list).
USED = {"I50.23": "Acute on chronic systolic (congestive) heart failure",
        "E11.9": "Type 2 diabetes mellitus without complications",
        "N18.30": "Chronic kidney disease, stage 3 unspecified", "J18.9": "Pneumonia, unspecified organism",
        "J96.01": "Acute respiratory failure with hypoxia"}
OTHERS = [(c.code, c.title or "") for c in read_code_list(package_file("drg", "data", "cms", "icd_10_cm.csv"))][:150]
CODING = {"coder": {"id": "coder-ava", "kind": "human"}, "status": "final", "codes": [
    {"code": "I50.23", "role": "principal", "sequence": 1, "poa": "Y", "evidence": []},
    {"code": "J18.9", "role": "secondary", "sequence": 2, "poa": "N", "evidence": []},
]}
A000 = "Cholera due to Vibrio cholerae 01, biovar cholerae"


def codes_file(path: Path, codes: dict[str, str]) -> Path:
    path.write_text("".join(f"{code.replace('.', ''):<7} {title}\n" for code, title in codes.items()))
    return path


@pytest.fixture
def world(clean_graph: Driver, settings: Settings, tmp_path: Path, api_keys) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """FY2024 in force on the stay's date with an open assignment on it; FY2025 deletes I50.23, retitles A00.0."""
    fy2024 = {**dict(OTHERS), **USED}
    load_source(clean_graph, settings, "icd10cm", [codes_file(tmp_path / "fy2024.txt", fy2024)], "FY2024")
    pcs = tmp_path / "pcs.txt"
    pcs.write_text("5A1955Z Respiratory Ventilation, Greater than 96 Consecutive Hours\n")
    load_source(clean_graph, settings, "icd10pcs", [pcs], "FY2024")
    keyed = settings.model_copy(update={"api_keys": f"{api_keys['engine'][1]},{api_keys['maintainer'][1]}",
                                        "release_poll_s": 3600.0})  # no poll in sight: only the process itself
    with TestClient(create_app(keyed), raise_server_exceptions=False) as client:
        engine = {"X-API-Key": api_keys["engine"][0]}
        assert client.post("/v1/encounters", json=INPATIENT, headers=engine).status_code == 201
        coded = client.post("/v1/encounters/enc-hf-0001/coding", json=CODING, headers=engine)
        assert coded.status_code == 201, coded.text
        fy2025 = {c: (f"{t} (revised)" if c == "A00.0" else t) for c, t in fy2024.items() if c != "I50.23"}
        report = load_source(clean_graph, settings, "icd10cm", [codes_file(tmp_path / "fy2025.txt", fy2025)],
                             "FY2025")
        yield {"client": client, "engine": engine, "maintainer": {"X-API-Key": api_keys["maintainer"][0]},
               "assignment": coded.json()["id"], "report": report, "fy2024": fy2024, "tmp": tmp_path}


def test_the_load_report_lists_what_uses_the_codes_a_release_deletes(world: dict[str, Any], driver: Driver,
                                                                     settings: Settings) -> None:
    impact = world["report"].report["impact"]
    assert set(IMPACT_KINDS) <= set(impact)  # every kind it looked at, zero or not
    assert impact["open_coding_assignments"]["references"] == 1
    assert impact["open_coding_assignments"]["examples"] == [world["assignment"]]
    assert impact["open_coding_assignments"]["example_codes"] == ["I50.23"]
    assert impact["map_rows"]["references"] == 0 and impact["verdict"].startswith("1 open_coding_assignments")

    # The same in queries/release_impact.cypher, run as cypher-shell would, in the diff's words.
    cypher = (REPO / "queries" / "release_impact.cypher").read_text()
    rows, _, _ = driver.execute_query(cypher, {"from_release": "icd10cm@FY2024", "to_release": "icd10cm@FY2025"},
                                      database_=settings.neo4j_database)
    diff = diff_releases(driver, settings.neo4j_database, "icd10cm", "icd10cm@FY2024", "icd10cm@FY2025")
    assert [(r["code"], r["change"]) for r in rows] == [("I50.23", "deleted")] and diff.deleted == ["I50.23"]
    assert {k: rows[0][k] for k in IMPACT_KINDS} == {k: impact[k]["references"] for k in IMPACT_KINDS}


def test_a_dry_run_that_breaks_nothing_says_none_having_looked(world: dict[str, Any], driver: Driver,
                                                               settings: Settings) -> None:
    unused = {c: t for c, t in world["fy2024"].items() if c != "A00.1"}  # nothing uses A00.1
    report = load_source(driver, settings, "icd10cm", [codes_file(world["tmp"] / "fy2026.txt", unused)], "FY2026",
                         dry_run=True)
    impact = report.report["impact"]
    assert report.report["diff"]["deleted"] >= 1 and impact["codes_checked"] >= 1
    assert impact["verdict"].startswith("none: looked at map_rows, payer_policy_rules, ncci_edits, mue_edits, "
                                        "cc_mcc_designations, open_coding_assignments")
    assert all(impact[k]["references"] == 0 for k in IMPACT_KINDS)


def _lookup(client: TestClient, headers: dict[str, str], code: str = "A00.0") -> tuple[int, str | None, str | None]:
    r = client.get(f"/v1/codes/icd10cm/{code}", headers=headers)
    body = r.json()
    return r.status_code, body.get("release"), body.get("title")


def _wait_for_table(client: TestClient, release: str) -> None:
    deadline = time.monotonic() + 120
    while f"('codes', '{release}')" not in client.get("/readyz").json()["reference_tables"]["held"]:
        assert time.monotonic() < deadline, f"the table of {release} was not built"
        time.sleep(0.05)


def test_a_retracted_release_is_out_of_service_at_once_kept_for_audit_and_its_id_reusable(
    world: dict[str, Any], driver: Driver, settings: Settings
) -> None:
    client, engine, maintainer = world["client"], world["engine"], world["maintainer"]
    _lookup(client, engine)
    _wait_for_table(client, "icd10cm@FY2025")  # answers come from the in-memory table
    assert _lookup(client, engine) == (200, "icd10cm@FY2025", f"{A000} (revised)")

    assert client.post("/v1/releases/icd10cm@FY2025/retract", headers=engine).status_code == 403
    r = client.post("/v1/releases/icd10cm@FY2025/retract", headers=maintainer,
                    json={"reason": "A00.0 retitled by mistake"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["id"], out["status"], out["reason"], out["retracted_by"]) == (
        "icd10cm@FY2025", "retracted", "A00.0 retitled by mistake", "api:maintainer")
    assert [run["id"] for run in out["load_runs"]] == [world["report"].run_id]
    assert out["load_runs"][0]["source_files"][0].startswith("fy2025.txt|")
    assert out["assignments_total"] == 0  # the stay is dated 2024-02-10, in FY2024's window
    # The same process serves the previous release at once: no poll, no stale table.
    assert _lookup(client, engine) == (200, "icd10cm@FY2024", A000)
    assert [x["id"] for x in client.get("/v1/releases", params={"system": "icd10cm"}, headers=engine).json()] == [
        "icd10cm@FY2024"]
    assert client.post("/v1/releases/icd10cm@FY2025/retract", headers=maintainer).status_code == 409
    assert client.post("/v1/releases/icd10cm@FY1999/retract", headers=maintainer).status_code == 404

    # The assignments checked against a retracted release are listed.
    fy2024 = client.post("/v1/releases/icd10cm@FY2024/retract", headers=maintainer).json()
    assert fy2024["assignments_total"] == 1
    assert fy2024["assignments"] == [{"assignment": world["assignment"], "encounter": "enc-hf-0001",
                                      "status": "final", "date_of_service": "2024-02-10",
                                      "codes": ["I50.23", "J18.9"]}]
    assert _lookup(client, engine)[0] == 404

    # Corrected files load under the same id; the retracted release stays, archived, with its runs and codes.
    corrected = {c: t for c, t in world["fy2024"].items() if c != "I50.23"}
    logged: list[str] = []
    report = load_source(driver, settings, "icd10cm", [codes_file(world["tmp"] / "fy2025-fixed.txt", corrected)],
                         "FY2025", log=logged.append)
    assert report.status == "completed"
    assert any("was retracted: kept for audit as icd10cm@FY2025#retracted-" in m for m in logged)
    assert _lookup(client, engine) == (200, "icd10cm@FY2025", A000)
    kept = [r for r in RunLedger(driver, settings.neo4j_database).visible_releases("icd10cm", retracted=True)
            if r["status"] == "retracted"]
    assert sorted(r["id"].split("#")[0] for r in kept) == ["icd10cm@FY2024", "icd10cm@FY2025"]
    archived = next(r["id"] for r in kept if r["id"].startswith("icd10cm@FY2025#"))
    records, _, _ = driver.execute_query(
        f"""MATCH (rel:{L.Release} {{id: $id}})
            RETURN COUNT {{ WITH {code_scope('rel')} AS scope {members('scope', 'c', 'm')} RETURN c }} AS codes,
                   [(rel)-[:{R.PRODUCED_BY}]->(run) | run.id] AS runs""",
        id=archived, database_=settings.neo4j_database)
    assert records[0]["codes"] == len(corrected) and records[0]["runs"] == [world["report"].run_id]
