"""The product description's example end to end: a documented knee arthroscopy with meniscectomy (SNOMED CT
procedure + laterality) maps through the loaded ConceptMap to CPT 29881-RT, and a claim billing 29881 with
29877 meets the NCCI edit the loaded tables hold for the pair — which line is denied and which modifiers would
(outpatient hospital, indicator 1) or could never (practitioner, indicator 0) bypass it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from neo4j import Driver

from tests.graph_service.evaluation.cases import body, evaluation, evidence, findings
from tests.graph_service.lane import post_both_ways

KNEE = [evidence("k-oa", "icd10cm", "M17.11", poa=None),
        {"id": "k-proc", "kind": "procedure", "snomed": ["40701008"], "qualifiers": ["24028007"],
         "text": "arthroscopic debridement with medial meniscectomy, right knee"}]


def knee(lines: list[dict[str, Any]], setting: str = "practitioner") -> dict[str, Any]:
    return body(("M17.11", ["k-oa"]), evidence_items=KNEE, lines=lines, setting=setting, poa=None)


def post(client: TestClient, headers: dict[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    return evaluation(post_both_ways(client, "/v1/assignments/evaluate", payload, headers))


def test_the_documented_right_knee_procedure_calls_for_29881_rt(evaluation_graph: Driver, client: TestClient,
                                                                engine: dict[str, str]) -> None:
    out = post(client, engine, knee([{"code": "29881", "evidence": ["k-proc"]}]))
    (f,) = findings(out, "compliant", "modifiers")
    assert f["severity"] == "warning" and "maps to 29881-RT" in f["explanation"] and "add RT" in f["explanation"]
    assert f["rule"]["kind"] == "ProcedureMap" and f["rule"]["release"] == "procedure_maps@2026"
    assert f["rule"]["detail"] == {"target": "cpt:29881", "conditions": ["24028007"], "modifiers": ["RT"]}
    assert [c["id"] for c in f["cited"]] == ["coding_rules@FY2026|RT"]
    # Billed as 29881-RT the line matches the documentation and is supported by the procedure statement.
    out = post(client, engine, knee([{"code": "29881", "modifiers": ["RT"], "evidence": ["k-proc"]}]))
    assert out["overall"] == "accept", out["recommendations"]
    # The wrong side contradicts the documentation.
    out = post(client, engine, knee([{"code": "29881", "modifiers": ["LT"], "evidence": ["k-proc"]}]))
    (f,) = findings(out, "compliant", "modifiers")
    assert f["severity"] == "error" and "LT contradicts the documentation" in f["explanation"]


def test_without_a_documented_side_the_map_cannot_decide(evaluation_graph: Driver, client: TestClient,
                                                         engine: dict[str, str]) -> None:
    items = [KNEE[0], {**KNEE[1], "qualifiers": []}]
    payload = body(("M17.11", ["k-oa"]), evidence_items=items, setting="practitioner", poa=None,
                   lines=[{"code": "29881", "modifiers": ["RT"], "evidence": ["k-proc"]}])
    out = post(client, engine, payload)
    review = [f for f in findings(out, "supported", "uncoded_evidence") if f["needs_review"]]
    assert len(review) == 1 and "laterality" in review[0]["review_reason"]
    assert out["overall"] == "review"


def test_29881_with_29877_practitioner_indicator_0_no_modifier_could_ever_bypass(
    evaluation_graph: Driver, client: TestClient, engine: dict[str, str]
) -> None:
    out = post(client, engine, knee([{"code": "29881", "modifiers": ["RT"], "evidence": ["k-proc"]},
                                     {"code": "29877", "modifiers": ["59"], "evidence": ["k-proc"]}]))
    (f,) = findings(out, "compliant", "ncci_ptp")
    assert f["severity"] == "error" and f["lines"] == ["1", "2"] and "line 2 is denied" in f["explanation"]
    assert "no modifier can ever bypass" in f["explanation"] and "59, RT sent, not effective" in f["explanation"]
    assert f["rule"]["id"] == "ncci_ptp@2026Q1|practitioner|29881|29877|2009-01-01"
    assert f["rule"]["detail"]["modifier_indicator"] == 0
    # The modifiers sent, which cannot help: their rule nodes are cited.
    assert [c["id"] for c in f["cited"]] == ["coding_rules@FY2026|59", "coding_rules@FY2026|RT"]
    assert out["compliant"]["status"] == "fail" and out["overall"] == "review"


def test_29881_with_29877_outpatient_hospital_indicator_1_modifiers_would_bypass(
    evaluation_graph: Driver, client: TestClient, engine: dict[str, str]
) -> None:
    # RT on both lines names the same knee: the anatomic modifier does not make the services distinct.
    out = post(client, engine, knee([{"code": "29881", "modifiers": ["RT"], "evidence": ["k-proc"]},
                                     {"code": "29877", "modifiers": ["RT"], "evidence": ["k-proc"]}],
                                    setting="outpatient_hospital"))
    (f,) = findings(out, "compliant", "ncci_ptp")
    assert f["severity"] == "error" and f["rule"]["detail"]["modifier_indicator"] == 1
    assert f["rule"]["id"] == "ncci_ptp@2026Q1|outpatient_hospital|29881|29877|1996-01-01"
    bypass = [c["detail"]["modifier"] for c in f["cited"]]
    assert bypass[:5] == ["59", "XE", "XP", "XS", "XU"] and "50" not in bypass
    assert all(c["detail"]["bypasses_ptp"] for c in f["cited"])
