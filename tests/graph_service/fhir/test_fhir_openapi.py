"""The published OpenAPI schema (``GET /openapi.json``) says what each /fhir operation takes, and the service
does what it says: every parameter an operation serves is declared (GET query parameters, POST ``Parameters``
items), a request with values inside the declared shapes is answered, and values outside them are refused.

On the real ICD-10-CM releases (FY2024, FY2025 code lists, FY2026 tabular), through the API.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from graph_service.fhir import lookup, translate, valuesets
from tests.graph_service.fhir.conftest import issue, resource

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SERVED = {
    "/fhir/CodeSystem/$lookup": lookup.LOOKUP_PARAMS,
    "/fhir/CodeSystem/$validate-code": lookup.VALIDATE_PARAMS,
    "/fhir/CodeSystem/$subsumes": lookup.SUBSUMES_PARAMS,
    "/fhir/ValueSet/$expand": valuesets.EXPAND_PARAMS,
    "/fhir/ValueSet/$validate-code": valuesets.VALIDATE_PARAMS,
    "/fhir/ConceptMap/$translate": translate.TRANSLATE_PARAMS,
}
# One value inside each declared query parameter's schema, on the loaded releases (answered 200).
INSIDE: dict[str, Any] = {
    "system": ICD, "code": "E11.9", "codeA": "E11", "codeB": "E11.9", "version": "FY2026", "date": "2025-11-03",
    "displayLanguage": "en-US", "property": ["parent", "billable"], "display": "Type 2 diabetes mellitus",
    "abstract": "false", "filter": "diabetes", "offset": 1, "count": 5, "valueSetVersion": "FY2026",
    "systemVersion": "FY2026", "system-version": [f"{ICD}|FY2026"], "reverse": "false", "targetsystem": ICD,
}
URLS = {"/fhir/CodeSystem/$validate-code": ICD, "/fhir/ValueSet/$expand": f"{ICD}?fhir_vs=isa/E11",
        "/fhir/ValueSet/$validate-code": f"{ICD}?fhir_vs=isa/E11",
        "/fhir/ConceptMap/$translate": f"{ICD}?fhir_cm=conversion"}
# Values outside a declared schema, and the status the service refuses each with.
OUTSIDE: list[tuple[str, Any, int]] = [
    ("system", "http://example.org/no-such-system", 404), ("code", " ", 400), ("date", "2025-13-40", 400),
    ("displayLanguage", "de-CH", 400), ("offset", -1, 400), ("offset", 2**31, 400), ("count", 1001, 400),
    ("abstract", "maybe", 400), ("reverse", "true", 400), ("filter", "  ", 400),
]
# Inside the schema, naming nothing loaded (no conversion table is loaded here): 404.
NOT_LOADED = {"version": "FY1999", "valueSetVersion": "FY1999", "conceptMapVersion": "FY2026"}
pytestmark = pytest.mark.usefixtures("reference_graph")


@pytest.fixture(scope="module")
def published(client: TestClient) -> dict[str, Any]:
    paths: dict[str, Any] = client.get("/openapi.json").json()["paths"]
    return paths


def _fits(value: Any, schema: dict[str, Any]) -> bool:
    """``value`` inside a declared schema (the keywords the /fhir declarations use)."""
    if schema.get("type") == "array":
        return isinstance(value, list) and all(_fits(v, schema["items"]) for v in value)
    if "enum" in schema and str(value).lower() not in {str(v).lower() for v in schema["enum"]}:
        return False  # a boolean enum is sent as true/false
    if schema.get("type") == "integer":
        return isinstance(value, int) and schema.get("minimum", value) <= value <= schema.get("maximum", value)
    if schema.get("type") == "boolean":
        return str(value) in ("true", "false")
    if schema.get("format") == "date":
        try:
            date.fromisoformat(str(value))
        except ValueError:
            return False
    return "pattern" not in schema or re.search(schema["pattern"], str(value)) is not None


def test_every_served_parameter_is_declared(published: dict[str, Any]) -> None:
    for path, served in SERVED.items():
        get, post = published[path]["get"], published[path]["post"]
        declared = {p["name"] for p in get["parameters"]}
        assert declared <= served and {"code", "url", "system"} & declared, path
        assert all(p["in"] == "query" for p in get["parameters"])
        for media in ("application/fhir+json", "application/json"):
            body = post["requestBody"]["content"][media]["schema"]
            assert body["properties"]["resourceType"]["enum"] == ["Parameters"]
            items = body["properties"]["parameter"]["items"]["oneOf"]
            assert {name for item in items for name in item["properties"]["name"]["enum"]} == served, path
    mode = published["/fhir/metadata"]["get"]["parameters"][0]
    assert (mode["name"], mode["schema"]["enum"]) == ("mode", ["full", "normative", "terminology"])


def test_values_inside_the_declared_shapes_are_answered_and_outside_refused(
    client: TestClient, engine: dict[str, str], published: dict[str, Any]
) -> None:
    refusals = 0
    for path in SERVED:
        declared = {p["name"]: p for p in published[path]["get"]["parameters"]}
        given = {name: URLS[path] if name == "url" else INSIDE[name] for name in declared if name in INSIDE or
                 name == "url"}
        assert set(declared) - set(given) <= set(NOT_LOADED), path
        for name, value in given.items():
            assert _fits(value, declared[name]["schema"]), (path, name, value)
        # The required ones, and the url ($translate's default map is SNOMED CT's, not loaded here: 404).
        required = {name: value for name, value in given.items() if declared[name]["required"] or name == "url"}
        expected = "ValueSet" if path.endswith("$expand") else "Parameters"
        resource(client.get(path, params=required, headers=engine), expected)
        resource(client.get(path, params=given, headers=engine), expected)  # every declared parameter at once
        for name, value, status in OUTSIDE:
            if name not in declared or _fits(value, declared[name]["schema"]):
                continue  # e.g. ValueSet $validate-code's system is any text (another system: result false)
            refusals += 1
            refused = client.get(path, params={**required, name: value}, headers=engine)
            assert refused.status_code == status, (path, name, refused.text)
        for name, value in NOT_LOADED.items():
            if name in declared:
                assert _fits(value, declared[name]["schema"]), (path, name, value)
                issue(client.get(path, params={**required, name: value}, headers=engine), 404, "not-found")
    assert refusals >= 20
    for mode, expected in (("full", "CapabilityStatement"), ("normative", "CapabilityStatement"),
                           ("terminology", "TerminologyCapabilities")):
        resource(client.get("/fhir/metadata", params={"mode": mode}, headers=engine), expected)
    issue(client.get("/fhir/metadata", params={"mode": "summary"}, headers=engine), 400, "invalid")


def test_a_codeable_concept_without_a_code_is_refused_not_a_server_error(
    client: TestClient, engine: dict[str, str]
) -> None:
    """Found by the fuzzer: the Parameters model reads ``"code": null`` as absent; the coding has no code."""
    body = {"resourceType": "Parameters", "parameter": [{"name": "codeableConcept", "valueCodeableConcept": {
        "coding": [{"system": ICD, "code": None, "display": "x"}]}}]}
    refused = issue(client.post("/fhir/CodeSystem/$validate-code", json=body, headers=engine), 400, "invalid")
    assert refused["expression"] == ["codeableConcept"]


@pytest.mark.parametrize("path", ["/fhir/CodeSystem/$validate-code", "/fhir/ValueSet/$validate-code",
                                  "/fhir/ConceptMap/$translate"])
def test_a_codeable_concept_in_the_query_string_is_refused_not_a_server_error(
    client: TestClient, engine: dict[str, str], path: str
) -> None:
    """A CodeableConcept is a structure only a POST Parameters body carries; as query text it is a 400, not a 500."""
    refused = issue(client.get(path, params={"codeableConcept": "I10", "url": ICD}, headers=engine), 400, "invalid")
    assert refused["expression"] == ["codeableConcept"]


def test_an_unknown_parameter_named_with_a_control_character_is_refused_not_a_server_error(
    client: TestClient, engine: dict[str, str]
) -> None:
    """Found by the fuzzer: the unknown parameter's name is echoed in the OperationOutcome, whose strings FHIR
    restricts; a vertical tab in it made the outcome itself invalid (500)."""
    refused = client.get("/fhir/CodeSystem/$validate-code", params={"\x0b": "null", "abstract": "false"},
                         headers=engine)
    assert refused.status_code == 400, refused.text
    assert refused.json()["resourceType"] == "OperationOutcome"
