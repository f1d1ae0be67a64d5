"""POST /v1/encounters (a FHIR Bundle, whole or nothing) and POST /v1/encounters/{id}/coding (revisions kept)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from loaders.registry import load_source
from ontology.vocabulary import L, R
from tests.conftest import graph_counts

FHIR = Path(__file__).resolve().parents[1] / "fixtures" / "fhir"
INPATIENT = json.loads((FHIR / "inpatient_heart_failure.json").read_text())
ICD10CM = {"I5023": "Acute on chronic systolic (congestive) heart failure",
           "E119": "Type 2 diabetes mellitus without complications",
           "N1830": "Chronic kidney disease, stage 3 unspecified", "J189": "Pneumonia, unspecified organism",
           "J9601": "Acute respiratory failure with hypoxia"}
PCS = {"5A1955Z": "Respiratory Ventilation, Greater than 96 Consecutive Hours"}
CHF = "Condition/cond-hf-chf#icd10cm:I50.23"


def read(driver: Driver, settings: Settings, cypher: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(cypher, params, database_=settings.neo4j_database)
    return [r.data() for r in records]


@pytest.fixture
def releases(clean_graph: Driver, settings: Settings, tmp_path: Path) -> Driver:
    """ICD-10-CM and ICD-10-PCS FY2024 (in force on the fixture's 2024-02-10 discharge), only the codes used."""
    cm, pcs = tmp_path / "icd10cm-codes.txt", tmp_path / "icd10pcs-codes.txt"
    cm.write_text("".join(f"{c:<7} {t}\n" for c, t in ICD10CM.items()))
    pcs.write_text("".join(f"{c} {t}\n" for c, t in PCS.items()))
    load_source(clean_graph, settings, "icd10cm", [cm], "FY2024")
    load_source(clean_graph, settings, "icd10pcs", [pcs], "FY2024")
    return clean_graph


@pytest.fixture
def posted(releases: Driver, client: TestClient, engine: dict[str, str]) -> dict[str, Any]:
    response = client.post("/v1/encounters", json=INPATIENT, headers=engine)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_bundle_loads_and_answers_with_encounters_and_their_evidence(posted: dict[str, Any], driver: Driver,
                                                                      settings: Settings) -> None:
    assert posted["release"].startswith("fhir@api-")
    (encounter,) = posted["encounters"]
    assert (encounter["id"], encounter["patient"], encounter["payer"]) == ("enc-hf-0001", "pt-hf-0001", "MEDICARE-A")
    assert encounter["documents"] == ["doc-hf-dischargesummary"]
    assert CHF in encounter["evidence"] and "Procedure/proc-hf-vent#icd10pcs:5A1955Z" in encounter["evidence"]
    assert posted["counts"]["encounters"] == 1 and posted["counts"]["evidence"] == len(encounter["evidence"])
    assert posted["warnings"]["codes_not_checked_snomed"] > 0  # no SNOMED CT release is loaded
    stored = read(driver, settings, f"""
        MATCH (:{L.Encounter} {{id: 'enc-hf-0001'}})-[:{R.HAS_EVIDENCE}]->(x:{L.Evidence}) RETURN count(x) AS n""")
    assert stored == [{"n": len(encounter["evidence"])}]


def test_posting_the_same_bundle_again_writes_nothing_new(posted: dict[str, Any], client: TestClient,
                                                          engine: dict[str, str]) -> None:
    again = client.post("/v1/encounters", json=INPATIENT, headers=engine)
    assert again.status_code == 201
    assert again.json()["nodes_created"] == 0 and again.json()["release"] == posted["release"]
    assert again.json()["encounters"] == posted["encounters"]


def test_an_auditor_may_not_load_encounters(releases: Driver, client: TestClient, auditor: dict[str, str]) -> None:
    assert client.post("/v1/encounters", json=INPATIENT, headers=auditor).status_code == 403


def test_an_invalid_bundle_is_refused_with_located_issues_and_nothing_written(
    releases: Driver, client: TestClient, engine: dict[str, str], settings: Settings
) -> None:
    bundle = json.loads((FHIR / "invalid" / "dangling_reference.json").read_text())
    before = graph_counts(releases, settings.neo4j_database)
    response = client.post("/v1/encounters", json=bundle, headers=engine)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["issues"] == [{"entry": 2, "path": "Bundle.entry[2].resource.encounter.reference",
                                  "reason": "a reference to an Encounter in this source",
                                  "found": "Encounter/enc-does-not-exist"}]
    assert "Bundle.entry[2].resource.encounter.reference" in problem["detail"]
    assert graph_counts(releases, settings.neo4j_database) == before


def test_a_code_the_release_in_force_lacks_is_refused(releases: Driver, client: TestClient, engine: dict[str, str],
                                                      settings: Settings) -> None:
    bundle = json.loads(json.dumps(INPATIENT))
    bundle["entry"][5]["resource"]["code"]["coding"][1]["code"] = "E11.65"  # not in the FY2024 list loaded
    before = graph_counts(releases, settings.neo4j_database)
    response = client.post("/v1/encounters", json=bundle, headers=engine)
    assert response.status_code == 422
    assert response.json()["issues"] == [{
        "entry": 5, "path": "Bundle.entry[5].resource.code.coding[1]", "found": "E11.65",
        "reason": "an ICD-10-CM code of icd10cm@FY2024, the release in force on 2024-02-10"}]
    assert graph_counts(releases, settings.neo4j_database) == before


def test_something_other_than_a_bundle_is_refused(releases: Driver, client: TestClient,
                                                  engine: dict[str, str]) -> None:
    response = client.post("/v1/encounters", json={"resourceType": "Patient", "id": "p"}, headers=engine)
    assert response.status_code == 422
    assert response.json()["issues"][0]["reason"] == "a FHIR Bundle"
    assert client.post("/v1/encounters", json=[1, 2], headers=engine).status_code == 422


def coding(coder: str, kind: str, status: str, codes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"coder": {"id": coder, "kind": kind}, "status": status, "codes": codes}


V1_CODES = [
    {"code": "I50.23", "role": "principal", "sequence": 1, "poa": "Y", "evidence": [CHF]},
    {"code": "N18.30", "role": "secondary", "sequence": 2, "poa": "Y",
     "evidence": ["Condition/cond-hf-ckd#icd10cm:N18.30"]},
    {"code": "J18.9", "role": "secondary", "sequence": 3, "poa": "N",
     "evidence": ["Condition/cond-hf-pna#icd10cm:J18.9"]},
    {"system": "icd10pcs", "code": "5A1955Z", "role": "procedure", "sequence": 1,
     "evidence": ["Procedure/proc-hf-vent#icd10pcs:5A1955Z"]},
]


def test_a_revision_supersedes_the_previous_assignment_which_is_kept(
    posted: dict[str, Any], client: TestClient, engine: dict[str, str], driver: Driver, settings: Settings
) -> None:
    first = client.post("/v1/encounters/enc-hf-0001/coding", headers=engine,
                        json=coding("engine-acme", "engine", "final", V1_CODES))
    assert first.status_code == 201, first.text
    v1 = first.json()
    assert (v1["version"], v1["supersedes"], v1["unsupported_codes"]) == (1, None, [])
    v2_codes = [*V1_CODES, {"code": "J96.01", "role": "secondary", "sequence": 4, "poa": "N", "evidence": []}]
    second = client.post("/v1/encounters/enc-hf-0001/coding", headers=engine,
                         json=coding("coder-ava", "human", "amended", v2_codes))
    assert second.status_code == 201, second.text
    v2 = second.json()
    assert (v2["version"], v2["supersedes"], v2["unsupported_codes"]) == (2, v1["id"], ["J96.01"])
    rows = read(driver, settings, f"""
        MATCH (e:{L.Encounter} {{id: 'enc-hf-0001'}})-[:{R.HAS_ASSIGNMENT}]->(a:{L.CodingAssignment})
        OPTIONAL MATCH (a)-[:{R.SUPERSEDES}]->(prev)
        RETURN a.id AS id, a.version AS version, prev.id AS supersedes,
               COUNT {{ (a)-[:{R.HAS_CODE}]->() }} AS codes,
               COUNT {{ (a)-[:{R.HAS_CODE}]->()-[:{R.SUPPORTED_BY}]->(:{L.Evidence}) }} AS supported
        ORDER BY version""")
    assert rows == [{"id": v1["id"], "version": 1, "supersedes": None, "codes": 4, "supported": 4},
                    {"id": v2["id"], "version": 2, "supersedes": v1["id"], "codes": 5, "supported": 4}]
    support = read(driver, settings, f"""
        MATCH (:{L.CodingAssignment} {{id: $id}})-[:{R.HAS_CODE}]->(ac {{code: 'I50.23'}})-[:{R.SUPPORTED_BY}]->(x)
              -[:{R.DOCUMENTED_IN}]->(s:{L.DocumentSection}) RETURN x.id AS evidence, s.title AS section""",
                   id=v2["id"])
    assert support == [{"evidence": CHF, "section": "Hospital Course"}]


def test_evidence_of_another_encounter_or_unknown_is_refused(
    posted: dict[str, Any], client: TestClient, engine: dict[str, str], driver: Driver, settings: Settings
) -> None:
    codes = [{**V1_CODES[0], "evidence": [CHF, "Condition/not-there#icd10cm:I50.23"]}]
    before = graph_counts(driver, settings.neo4j_database)
    response = client.post("/v1/encounters/enc-hf-0001/coding", headers=engine,
                           json=coding("coder-ava", "human", "final", codes))
    assert response.status_code == 422
    assert "Condition/not-there#icd10cm:I50.23" in response.json()["detail"]
    assert graph_counts(driver, settings.neo4j_database) == before


def test_a_final_assignment_records_the_edits_and_coverage_findings_of_its_cpt_lines(
    posted: dict[str, Any], client: TestClient, engine: dict[str, str], driver: Driver, settings: Settings,
) -> None:
    cpt = Path(__file__).resolve().parents[1] / "fixtures" / "cpt" / "LONGULT_sample.txt"
    load_source(driver, settings, "cpt", [cpt], "2024")
    codes = [*V1_CODES, {"system": "cpt", "code": "93306", "role": "procedure", "sequence": 2, "evidence": []}]
    out = client.post("/v1/encounters/enc-hf-0001/coding", headers=engine,
                      json=coding("coder-ava", "human", "final", codes))
    assert out.status_code == 201, out.text
    findings = out.json()["findings"]
    # No NCCI release and no MEDICARE-A policies are loaded: both checks ran and say so, nothing is guessed.
    assert findings["claim_edits"]["lines"][0]["code"] == "93306"
    assert "MEDICARE-A" in findings["coverage"] and findings["coverage"].startswith("not checked")
    stored = read(driver, settings, f"MATCH (a:{L.CodingAssignment} {{id: $id}}) RETURN a.findings AS f",
                  id=out.json()["id"])
    assert "claim_edits" in stored[0]["f"] and "coverage" in stored[0]["f"]
