"""End to end through the HTTP API: a generated inpatient encounter (FHIR Bundle) whose first coding misses a
documented MCC and carries an NCCI conflict is evaluated `review` with both findings and the DRG-changing
alternative; the amended coding is accepted; both evaluations are stored with the rule nodes they cite and show
in the encounter trace."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from ontology.check import check_graph
from ontology.vocabulary import L, R
from tests.conftest import wipe_graph
from tests.graph_service.evaluation.cases import evaluation, findings
from tests.graph_service.evaluation.graph_data import load_evaluation_graph

ENC = "enc-eval-0001"
POA_URL = "https://codegraph.example/fhir/StructureDefinition/condition-present-on-admission"


def _ref(n: int) -> str:
    return f"urn:uuid:7c2e3f4a-0000-4000-8000-{n:012d}"


def _condition(n: int, cid: str, code: str, display: str) -> dict[str, Any]:
    return {"fullUrl": _ref(n), "resource": {
        "resourceType": "Condition", "id": cid, "extension": [{"url": POA_URL, "valueCode": "Y"}],
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active"}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                           "code": "confirmed"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                  "code": "encounter-diagnosis"}]}],
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": code, "display": display}]},
        "subject": {"reference": _ref(1)}, "encounter": {"reference": _ref(2)},
        "recordedDate": "2026-02-10T11:00:00-05:00"}}


def generated_bundle() -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": _ref(1), "resource": {"resourceType": "Patient", "id": "pt-eval-0001", "gender": "female",
                                          "birthDate": "1953-06-14"}},
        {"fullUrl": _ref(2), "resource": {
            "resourceType": "Encounter", "id": ENC, "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": _ref(1)},
            "period": {"start": "2026-02-03T14:20:00-05:00", "end": "2026-02-10T11:00:00-05:00"},
            "hospitalization": {"dischargeDisposition": {"coding": [
                {"system": "https://www.nubc.org/CodeSystem/PatDischargeStatus", "code": "01"}]}}}},
        _condition(3, "cond-pna", "J18.9", "Pneumonia, unspecified organism"),
        _condition(4, "cond-arf", "J96.01", "Acute respiratory failure with hypoxia"),
        _condition(5, "cond-htn", "I10", "Essential (primary) hypertension"),
        {"fullUrl": _ref(6), "resource": {
            "resourceType": "Procedure", "id": "proc-visit", "status": "completed",
            "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "99213"}]},
            "subject": {"reference": _ref(1)}, "encounter": {"reference": _ref(2)},
            "performedDateTime": "2026-02-09T10:00:00-05:00"}},
    ]}


@pytest.fixture(scope="module")
def encounter(driver: Driver, settings: Settings, tmp_path_factory: pytest.TempPathFactory, client: TestClient,
              engine: dict[str, str]) -> Iterator[dict[str, str]]:
    load_evaluation_graph(driver, settings, tmp_path_factory.mktemp("evaluation"))
    r = client.post("/v1/encounters", json=generated_bundle(), headers=engine)
    assert r.status_code == 201, r.text
    (enc,) = r.json()["encounters"]
    by_code = {x.rsplit(":", 1)[1]: x for x in enc["evidence"]}
    yield by_code
    wipe_graph(driver, settings.neo4j_database)  # the next module's graph starts without encounters


def coding(status: str, codes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"coder": {"id": "engine-acme", "kind": "engine"}, "status": status, "codes": codes}


def test_first_coding_review_then_amended_accept_both_stored_and_traced(
    encounter: dict[str, str], client: TestClient, engine: dict[str, str], auditor: dict[str, str],
    driver: Driver, settings: Settings,
) -> None:
    x = encounter
    first = [
        {"code": "J18.9", "role": "principal", "sequence": 1, "poa": "Y", "evidence": [x["J18.9"]]},
        {"code": "I10", "role": "secondary", "sequence": 2, "poa": "Y", "evidence": [x["I10"]]},
        {"system": "cpt", "code": "99213", "role": "procedure", "sequence": 1, "evidence": [x["99213"]]},
        {"system": "cpt", "code": "36415", "role": "procedure", "sequence": 2},
    ]
    r = client.post(f"/v1/encounters/{ENC}/coding", json=coding("final", first), headers=engine)
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert v1["evaluation_overall"] == "review" and v1["evaluation_id"].startswith(v1["id"] + "/E-")

    suffix = v1["id"].split("/", 1)[1]
    out = evaluation(client.get(f"/v1/encounters/{ENC}/coding/{suffix}/evaluation", headers=auditor))
    assert out["overall"] == "review" and out["assignment_id"] == v1["id"]
    (mcc,) = findings(out, "optimal", "missed_cc_mcc")
    assert mcc["codes"] == ["J96.01"] and mcc["evidence"] == [x["J96.01"]]
    assert (mcc["alternative"]["drg"], out["drg"]["drg"]) == ("193", "195") and mcc["alternative"]["delta_payment"] > 0
    (ptp,) = findings(out, "compliant", "ncci_ptp")
    assert ptp["severity"] == "error" and ptp["codes"] == ["99213", "36415"]
    assert "line 2 is denied" in ptp["explanation"]
    assert any("J96.01" in rec for rec in out["recommendations"])

    amended = [
        {"code": "J18.9", "role": "principal", "sequence": 1, "poa": "Y", "evidence": [x["J18.9"]]},
        {"code": "J96.01", "role": "secondary", "sequence": 2, "poa": "Y", "evidence": [x["J96.01"]]},
        {"code": "I10", "role": "secondary", "sequence": 3, "poa": "Y", "evidence": [x["I10"]]},
        {"system": "cpt", "code": "99213", "role": "procedure", "sequence": 1, "evidence": [x["99213"]]},
    ]
    r = client.post(f"/v1/encounters/{ENC}/coding", json={**coding("amended", amended), "note": "add MCC, drop 36415"},
                    headers=engine)
    assert r.status_code == 201, r.text
    v2 = r.json()
    assert v2["evaluation_overall"] == "accept", v2
    assert v2["drg"]["drg"] == "193"

    stored, _, _ = driver.execute_query(f"""
        MATCH (ev:{L.Evaluation})-[:{R.EVALUATES}]->(a:{L.CodingAssignment})
        RETURN a.id AS assignment, ev.overall AS overall,
               collect {{ MATCH (ev)-[c:{R.CITES}]->(n) RETURN DISTINCT coalesce(n.key, n.id) }} AS cites
        ORDER BY a.version""", database_=settings.neo4j_database)
    assert [(s["assignment"], s["overall"]) for s in stored] == [(v1["id"], "review"), (v2["id"], "accept")]
    cited = set(stored[0]["cites"])
    assert {"v43|J96.01", "v43|193", "coding_rules@FY2026|III", "coding_rules@FY2026|missed_cc_mcc",
            "coding_rules@FY2026|ncci_ptp", "cpt|36415", "coding_rules@FY2026|59"} <= cited

    r = client.get(f"/v1/encounters/{ENC}/trace", headers=auditor)
    assert r.status_code == 200, r.text
    versions = r.json()["versions"]
    assert [[e["overall"] for e in v["evaluations"]] for v in versions] == [["review"], ["accept"]]
    rows = versions[0]["evaluations"][0]["cites"]
    assert {"node": "cpt|36415", "family": "compliant", "check": "ncci_ptp",
            "rule": "ncci_ptp@2026Q1|practitioner|99213|36415|2013-01-01"} in rows

    # History: another encounter of the same principal category now sees this one as amended, DRG up.
    r = client.post("/v1/assignments/evaluate", headers=engine, json={
        "encounter": {"age": 70, "sex": "male", "admission_date": "2026-02-01", "discharge_date": "2026-02-05",
                      "evidence": [{"id": "p", "codes": [{"system": "icd10cm", "code": "J18.9"}]}]},
        "codes": {"principal": {"code": "J18.9", "poa": "Y", "evidence": ["p"]}}})
    history = evaluation(r)["history"]
    assert (history["encounters"], history["amended_encounters"], history["drg_up"]) == (1, 1, 1)
    assert history["amendment_rate"] == 1.0
    # Evaluations, their citations and the rule nodes conform to the ontology (`codegraph ontology check`).
    assert check_graph(driver, settings.neo4j_database) == []
