"""CodeSystem operations over HTTP on the real ICD-10-CM releases (FY2024, FY2025 code lists; FY2026 tabular)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from tests.graph_service.fhir.conftest import issue, param, parameters, params, properties, resource

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
pytestmark = pytest.mark.usefixtures("reference_graph")


def test_metadata_lists_the_operations_and_exactly_the_loaded_versions(
    client: TestClient, engine: dict[str, str], reference_graph: Driver
) -> None:
    cap = resource(client.get("/fhir/metadata", headers=engine), "CapabilityStatement")
    assert cap["fhirVersion"] == "4.0.1"
    ops = {r["type"]: sorted(o["name"] for o in r["operation"]) for r in cap["rest"][0]["resource"]}
    assert ops == {"CodeSystem": ["lookup", "subsumes", "validate-code"], "ValueSet": ["expand", "validate-code"],
                   "ConceptMap": ["translate"]}
    tc = resource(client.get("/fhir/metadata?mode=terminology", headers=engine), "TerminologyCapabilities")
    assert [(s["uri"], [(v["code"], v["isDefault"]) for v in s["version"]]) for s in tc["codeSystem"]] == [
        (ICD, [("FY2024", False), ("FY2025", False), ("FY2026", True)])]


def test_code_systems_are_searched_by_url_and_version_and_read_by_id(
    client: TestClient, engine: dict[str, str]
) -> None:
    bundle = resource(client.get("/fhir/CodeSystem", params={"url": ICD}, headers=engine), "Bundle")
    assert (bundle["type"], bundle["total"]) == ("searchset", 3)
    assert [e["resource"]["version"] for e in bundle["entry"]] == ["FY2024", "FY2025", "FY2026"]
    one = resource(client.get("/fhir/CodeSystem", params={"url": ICD, "version": "FY2026"}, headers=engine), "Bundle")
    [entry] = one["entry"]
    cs = entry["resource"]
    assert (cs["id"], cs["content"], cs["hierarchyMeaning"]) == ("icd10cm-FY2026", "not-present", "is-a")
    assert cs["count"] > 90_000  # every code, category, block and chapter of the tabular list
    assert entry["fullUrl"].endswith("/fhir/CodeSystem/icd10cm-FY2026")
    assert resource(client.get("/fhir/CodeSystem/icd10cm-FY2026", headers=engine), "CodeSystem") == cs
    none = resource(client.get("/fhir/CodeSystem", params={"url": "http://loinc.org"}, headers=engine), "Bundle")
    assert none["total"] == 0
    issue(client.get("/fhir/CodeSystem/icd10cm-FY2099", headers=engine), 404, "not-found")


def test_lookup_gives_display_hierarchy_billable_window_and_notes(client: TestClient, engine: dict[str, str]) -> None:
    body = resource(client.get("/fhir/CodeSystem/$lookup", params={"system": ICD, "code": "E11.9"}, headers=engine),
                    "Parameters")
    assert (param(body, "name"), param(body, "version"), param(body, "display")) == (
        "ICD-10-CM", "FY2026", "Type 2 diabetes mellitus without complications")
    assert properties(body, "parent") == ["E11"]
    assert properties(body, "billable") == [True] and properties(body, "inactive") == [False]
    assert properties(body, "valid-from-release") == ["icd10cm@FY2024"]
    assert properties(body, "valid-to-release") == ["icd10cm@FY2026"]
    assert properties(body, "effective-from") == ["2023-10-01"] and properties(body, "effective-to") == ["2026-10-01"]
    category = resource(client.post("/fhir/CodeSystem/$lookup", json=parameters(system=ICD, code="E11"),
                                    headers=engine), "Parameters")
    assert "E11.9" in properties(category, "child") and properties(category, "billable") == [False]
    excludes1 = [p for p in params(category, "property") if p["code"] == "excludes1"]
    assert {"code": "excludes1", "value": "E10", "description": "type 1 diabetes mellitus (E10.-)"} in excludes1


def test_lookup_of_an_older_release_by_version_or_date(client: TestClient, engine: dict[str, str]) -> None:
    by_version = resource(client.get("/fhir/CodeSystem/$lookup", params={"system": ICD, "code": "E11.9",
                                                                         "version": "FY2024"}, headers=engine),
                          "Parameters")
    by_date = resource(client.get("/fhir/CodeSystem/$lookup", params={"system": f"{ICD}", "code": "E11.9",
                                                                      "date": "2024-03-01"}, headers=engine),
                       "Parameters")
    assert param(by_version, "version") == param(by_date, "version") == "FY2024"


def test_validate_code_existence_display_and_abstract(client: TestClient, engine: dict[str, str]) -> None:
    def validate(**query: str) -> dict[str, object]:
        return resource(client.get("/fhir/CodeSystem/$validate-code", params={"url": ICD, **query}, headers=engine),
                        "Parameters")

    ok = validate(code="I10")
    assert (param(ok, "result"), param(ok, "display")) == (True, "Essential (primary) hypertension")
    missing = validate(code="I10.9")
    assert param(missing, "result") is False
    assert "'I10.9' is not a code of ICD-10-CM FY2026" in param(missing, "message")
    wrong = validate(code="I10", display="Hypertension")
    assert param(wrong, "result") is False and "is not 'Essential (primary) hypertension'" in param(wrong, "message")
    assert param(validate(code="E11", abstract="false"), "result") is False  # a category is not a billable code
    assert param(validate(code="E11"), "result") is True
    posted = resource(client.post("/fhir/CodeSystem/$validate-code", headers=engine, json=parameters(
        url=ICD, coding={"system": ICD, "code": "E11.9"})), "Parameters")
    assert param(posted, "result") is True


def test_subsumes_in_both_directions(client: TestClient, engine: dict[str, str]) -> None:
    def outcome(a: str, b: str) -> str:
        return param(resource(client.get("/fhir/CodeSystem/$subsumes", headers=engine, params={
            "system": ICD, "codeA": a, "codeB": b}), "Parameters"), "outcome")

    assert [outcome("E11", "E11.9"), outcome("E11.9", "E11"), outcome("E11.9", "E11.9"), outcome("E11.9", "I10"),
            outcome("CH04", "E11.65")] == ["subsumes", "subsumed-by", "equivalent", "not-subsumed", "subsumes"]


def test_errors_are_operation_outcomes_with_fitting_codes(client: TestClient, engine: dict[str, str]) -> None:
    lookup = "/fhir/CodeSystem/$lookup"
    issue(client.get(lookup, params={"system": "http://example.org/x", "code": "A"}, headers=engine), 404, "not-found")
    found = issue(client.get(lookup, params={"system": ICD, "code": "E11.9", "version": "FY2099"}, headers=engine),
                  404, "not-found")
    assert "icd10cm@FY2099" in found["diagnostics"]
    issue(client.get(lookup, params={"system": ICD, "code": "Z99.999"}, headers=engine), 404, "not-found")
    assert issue(client.get(lookup, params={"system": ICD}, headers=engine), 400, "required")["expression"] == ["code"]
    issue(client.get(lookup, params={"system": ICD, "code": "E11", "frobnicate": "1"}, headers=engine), 400,
          "not-supported")
    bad = {"resourceType": "Parameters", "parameter": [{"name": "code", "valueSomething": "E11"}]}
    issue(client.post(lookup, json=bad, headers=engine), 400, "invalid")
    issue(client.post(lookup, content=b"{not json", headers=engine), 400, "invalid")
    issue(client.get(lookup, params={"system": ICD, "code": "E11"}), 401, "login")
    issue(client.get("/fhir/Patient/1", headers=engine), 404, "not-supported")
    wrong_method = client.delete("/fhir/CodeSystem/$lookup", headers=engine)
    issue(wrong_method, 405, "not-supported")
    assert wrong_method.headers["allow"] == "GET, POST"
    issue(client.get("/fhir/metadata", params={"mode": "x"}, headers=engine), 400, "invalid")


def test_the_other_input_forms_property_coding_codeable_concept_and_system_version(
    client: TestClient, engine: dict[str, str]
) -> None:
    only_parents = resource(client.get("/fhir/CodeSystem/$lookup", params=[
        ("system", ICD), ("code", "E11.21"), ("property", "parent"), ("property", "billable")], headers=engine),
        "Parameters")
    assert [p["code"] for p in params(only_parents, "property")] == ["billable", "parent"]
    by_coding = resource(client.post("/fhir/CodeSystem/$lookup", json=parameters(
        coding={"system": ICD, "code": "E11.21"}), headers=engine), "Parameters")
    assert param(by_coding, "display") == "Type 2 diabetes mellitus with diabetic nephropathy"
    concept = {"resourceType": "Parameters", "parameter": [
        {"name": "url", "valueUri": ICD},
        {"name": "codeableConcept", "valueCodeableConcept": {"coding": [{"system": ICD, "code": "E11.21"}]}}]}
    assert param(resource(client.post("/fhir/CodeSystem/$validate-code", json=concept, headers=engine),
                          "Parameters"), "result") is True
    subsumes = resource(client.post("/fhir/CodeSystem/$subsumes", json=parameters(
        codingA={"system": ICD, "code": "E11"}, codingB={"system": ICD, "code": "E11.21"}), headers=engine),
        "Parameters")
    assert param(subsumes, "outcome") == "subsumes"
    pinned = resource(client.get("/fhir/ValueSet/$expand", params={
        "url": f"{ICD}?fhir_vs", "system-version": f"{ICD}|FY2024", "count": 1}, headers=engine), "ValueSet")
    assert pinned["expansion"]["contains"][0]["version"] == "FY2024"
    issue(client.get("/fhir/ValueSet/$expand", params={"url": f"{ICD}?fhir_vs", "activeOnly": "true"},
                     headers=engine), 400, "not-supported")
