"""$translate over the procedure maps loaded from a FHIR ConceptMap (SNOMED CT → CPT / ICD-10-PCS), with the
targets' dependsOn conditions checked against the dependency parameters."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from loaders.registry import load_source
from tests.graph_service.fhir.conftest import issue, param, params, resource

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "conceptmap" / "snomed-procedure-to-billing.json"
SCT, CPT = "http://snomed.info/sct", "http://www.ama-assn.org/go/cpt"
LATERALITY = "http://snomed.info/id/272741003"


def test_procedure_targets_come_with_their_conditions_and_the_given_ones_are_selected(
    clean_graph: Driver, settings: Settings, client: TestClient, engine: dict[str, str]
) -> None:
    load_source(clean_graph, settings, "procedure_maps", [FIXTURE], "2026")
    every = resource(client.get("/fhir/ConceptMap/$translate", params={
        "system": SCT, "code": "40701008", "targetsystem": CPT}, headers=engine), "Parameters")
    rows = params(every, "match")
    assert [(m["concept"]["code"], m["depends-on"]) for m in rows] == [  # by target, then by condition
        ("29881", f"{LATERALITY} = 24028007 (Right)"), ("29881", f"{LATERALITY} = 51440002 (Right and left)"),
        ("29881", f"{LATERALITY} = 7771000 (Left)")]
    assert all("selected" not in m for m in rows) and param(every, "result") is True
    right = resource(client.post("/fhir/ConceptMap/$translate", headers=engine, json={
        "resourceType": "Parameters", "parameter": [
            {"name": "url", "valueUri": "https://codegraph.dev/fhir/ConceptMap/snomed-procedure-to-billing"},
            {"name": "system", "valueUri": SCT}, {"name": "code", "valueCode": "40701008"},
            {"name": "targetsystem", "valueUri": CPT},
            {"name": "dependency", "part": [{"name": "element", "valueUri": LATERALITY}, {
                "name": "concept", "valueCodeableConcept": {"coding": [{"system": SCT, "code": "24028007"}]}}]}]}),
        "Parameters")
    selected = [m for m in params(right, "match") if m["selected"]]
    assert [(m["concept"]["code"], m["depends-on"]) for m in selected] == [
        ("29881", f"{LATERALITY} = 24028007 (Right)")]
    [product] = next(p for p in right["parameter"] if p["name"] == "match" and any(
        q["name"] == "selected" and q["valueBoolean"] for q in p["part"]))["part"][3:4]
    assert product["name"] == "product" and product["part"][1]["valueCoding"]["code"] == "RT"
    assert param(right, "message") == "1 of 3 targets meet the dependencies given"
    maps = resource(client.get("/fhir/ConceptMap", headers=engine), "Bundle")
    assert [e["resource"]["url"] for e in maps["entry"]] == [
        "https://codegraph.dev/fhir/ConceptMap/snomed-procedure-to-billing"]
    # conceptMapVersion is the version the ConceptMap resource carries: the procedure-map release.
    assert [e["resource"]["version"] for e in maps["entry"]] == ["2026"]
    query = {"system": SCT, "code": "40701008", "targetsystem": CPT}
    pinned = resource(client.get("/fhir/ConceptMap/$translate", params={**query, "conceptMapVersion": "2026"},
                                 headers=engine), "Parameters")
    assert pinned == every
    issue(client.get("/fhir/ConceptMap/$translate", params={**query, "conceptMapVersion": "2025"}, headers=engine),
          404, "not-found")
