"""Every /fhir route answers a valid R4 resource (no switch needed), and the operation parameters that pick a
release or a language: ``date``, ``version``, ``systemVersion``, ``valueSetVersion``, ``displayLanguage``.

On the real ICD-10-CM releases (FY2024 and FY2025 code lists, FY2026 tabular). Each answer goes through
``conftest.resource``, which reads it with the R4B models and with the FHIR 4.0.1 models of ``fhirclient``.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from neo4j import Driver

from graph_service.fhir.routes import CATCH_ALL, router
from tests.graph_service.fhir.conftest import issue, param, parameters, params, resource

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
LOOKUP, VALIDATE, SUBSUMES = "/fhir/CodeSystem/$lookup", "/fhir/CodeSystem/$validate-code", "/fhir/CodeSystem/$subsumes"
EXPAND, VS_VALIDATE = "/fhir/ValueSet/$expand", "/fhir/ValueSet/$validate-code"
TRANSLATE = "/fhir/ConceptMap/$translate"
pytestmark = pytest.mark.usefixtures("reference_graph")
NEW_IN_FY2026 = """
MATCH (c:Code)-[m:IN_RELEASE]->(:Release {id: 'icd10cm@FY2026'})
WHERE m.billable AND NOT (c)-[:IN_RELEASE]->(:Release {id: 'icd10cm@FY2024'})
RETURN c.code AS code ORDER BY code LIMIT 1
"""


@pytest.fixture(scope="module")
def new_code(reference_graph: Driver) -> str:
    """A billable FY2026 code that FY2024 does not have."""
    records, _, _ = reference_graph.execute_query(NEW_IN_FY2026)
    return str(records[0]["code"])


def test_every_route_answers_a_resource_that_validates_as_r4(client: TestClient, engine: dict[str, str]) -> None:
    asked: set[tuple[str, str]] = set()

    def ask(method: str, route: str, expected: str, path: str | None = None, **kw: Any) -> dict[str, Any]:
        asked.add((method, route))
        return resource(client.request(method, path or route, headers=engine, **kw), expected)

    ask("GET", "/fhir/metadata", "CapabilityStatement")
    ask("GET", "/fhir/metadata", "TerminologyCapabilities", params={"mode": "terminology"})
    ask("GET", "/fhir/CodeSystem", "Bundle", params={"url": ICD})
    ask("GET", "/fhir/CodeSystem/{id_}", "CodeSystem", "/fhir/CodeSystem/icd10cm-FY2026")
    ask("GET", "/fhir/ValueSet", "Bundle")
    ask("GET", "/fhir/ConceptMap", "Bundle")
    operations = {
        LOOKUP: {"system": ICD, "code": "E11.9"},  # a record with parents, notes, inclusion terms, a window
        VALIDATE: {"url": ICD, "code": "E11.9", "display": "Type 2 diabetes mellitus without complications"},
        SUBSUMES: {"system": ICD, "codeA": "E11", "codeB": "E11.9"},
        EXPAND: {"url": f"{ICD}?fhir_vs=isa/CH04", "count": 20, "offset": 3},
        VS_VALIDATE: {"url": f"{ICD}?fhir_vs=isa/E11", "system": ICD, "code": "I10"},
        TRANSLATE: {"system": ICD, "code": "E11.9"},  # the conversion map (nothing loaded: a negative answer)
    }
    for path, query in operations.items():
        expected = "ValueSet" if path == EXPAND else "Parameters"
        by_get = ask("GET", path, expected, params=query)
        by_post = ask("POST", path, expected, json=parameters(**query))
        if expected == "ValueSet":  # each expansion has its own identifier and time stamp
            for body in (by_get, by_post):
                body["expansion"].pop("identifier")
                body["expansion"].pop("timestamp")
        assert by_get == by_post, path
    lookup = ask("GET", LOOKUP, "Parameters", params={"system": ICD, "code": "E11"})
    assert len(params(lookup, "property")) > 20  # a category with its children and notes: a large Parameters
    served = {(method, route.path) for route in router.routes if isinstance(route, APIRoute)
              and not route.path.endswith(CATCH_ALL) for method in route.methods or ()}
    assert asked == served
    # An error is an OperationOutcome built by the same models.
    issue(client.get(LOOKUP, params={"system": ICD, "code": "Q99.999"}, headers=engine), 404, "not-found")


def test_date_and_version_pick_the_release_of_validate_code_expand_and_subsumes(
    client: TestClient, engine: dict[str, str], new_code: str
) -> None:
    def validate(**query: str) -> dict[str, Any]:
        return resource(client.get(VALIDATE, params={"url": ICD, "code": new_code, **query}, headers=engine),
                        "Parameters")

    assert param(validate(), "result") is True
    assert param(validate(date="2025-12-01"), "result") is True  # FY2026 is in force from 2025-10-01
    old = validate(date="2024-03-01")
    assert param(old, "result") is False and "is not a code of ICD-10-CM FY2024" in param(old, "message")
    assert param(validate(version="FY2024"), "result") is False
    assert param(validate(version="FY2026"), "result") is True
    posted = resource(client.post(VALIDATE, json=parameters(url=ICD, code=new_code, version="FY2024"),
                                  headers=engine), "Parameters")
    assert param(posted, "result") is False

    def expand(**query: object) -> dict[str, Any]:
        return resource(client.get(EXPAND, params={"url": f"{ICD}?fhir_vs", "count": 5, **query}, headers=engine),
                        "ValueSet")["expansion"]

    fy2024 = resource(client.get("/fhir/CodeSystem/icd10cm-FY2024", headers=engine), "CodeSystem")
    by_date = expand(date="2024-03-01")
    assert by_date["total"] == fy2024["count"] and {c["version"] for c in by_date["contains"]} == {"FY2024"}
    assert {"name": "version", "valueUri": f"{ICD}|FY2024"} in by_date["parameter"]
    assert {c["version"] for c in expand()["contains"]} == {"FY2026"}

    def subsumes(**query: str) -> Any:
        return resource(client.get(SUBSUMES, params={"system": ICD, **query}, headers=engine), "Parameters")

    assert param(subsumes(codeA="E11", codeB="E11.9", version="FY2026"), "outcome") == "subsumes"
    # FY2024 is a code list: its categories (E11) are not codes of that release.
    older = issue(client.get(SUBSUMES, params={"system": ICD, "codeA": "E11", "codeB": "E11.9", "version": "FY2024"},
                             headers=engine), 404, "not-found")
    assert "icd10cm@FY2024" in older["diagnostics"]


def test_value_set_validate_code_takes_the_code_system_version(
    client: TestClient, engine: dict[str, str], new_code: str
) -> None:
    def validate(**query: str) -> dict[str, Any]:
        return resource(client.get(VS_VALIDATE, params={"url": f"{ICD}?fhir_vs", "system": ICD, "code": new_code,
                                                        **query}, headers=engine), "Parameters")

    assert param(validate(), "result") is True
    assert param(validate(systemVersion="FY2024"), "result") is False
    assert param(validate(systemVersion="FY2026"), "result") is True
    assert param(validate(valueSetVersion="FY2024"), "result") is False
    assert param(validate(date="2024-03-01"), "result") is False
    assert param(validate(**{"system-version": f"{ICD}|FY2024"}), "result") is False
    clash = issue(client.get(VS_VALIDATE, params={"url": f"{ICD}?fhir_vs", "system": ICD, "code": new_code,
                                                  "valueSetVersion": "FY2026", "systemVersion": "FY2024"},
                             headers=engine), 400, "invalid")
    assert clash["expression"] == ["systemVersion"] and "icd10cm@FY2024" in clash["diagnostics"]


def test_display_language_is_english_and_any_other_is_refused(client: TestClient, engine: dict[str, str]) -> None:
    english = resource(client.get(LOOKUP, params={"system": ICD, "code": "I10", "displayLanguage": "en-US"},
                                  headers=engine), "Parameters")
    assert param(english, "display") == "Essential (primary) hypertension"
    asks = [(LOOKUP, {"system": ICD, "code": "I10"}), (VALIDATE, {"url": ICD, "code": "I10"}),
            (EXPAND, {"url": f"{ICD}?fhir_vs=isa/I10"}), (VS_VALIDATE, {"url": f"{ICD}?fhir_vs", "code": "I10"})]
    for path, query in asks:
        assert resource(client.get(path, params={**query, "displayLanguage": "en"}, headers=engine),
                        "ValueSet" if path == EXPAND else "Parameters")
        refused = issue(client.get(path, params={**query, "displayLanguage": "de-CH"}, headers=engine), 400,
                        "not-supported")
        assert refused["expression"] == ["displayLanguage"] and "English" in refused["diagnostics"], path


def test_parameters_not_served_are_refused_not_ignored(client: TestClient, engine: dict[str, str]) -> None:
    """The R4 parameters of each operation that this server does not serve (docs/fhir.md) are refused."""
    not_served = {
        EXPAND: ({"url": f"{ICD}?fhir_vs"}, ["valueSet", "context", "contextDirection", "includeDesignations",
                                              "designation", "includeDefinition", "activeOnly", "excludeNested",
                                              "excludeNotForUI", "excludePostCoordinated", "exclude-system",
                                              "check-system-version", "force-system-version"]),
        VS_VALIDATE: ({"url": f"{ICD}?fhir_vs", "code": "I10"}, ["context", "valueSet"]),
        VALIDATE: ({"url": ICD, "code": "I10"}, ["codeSystem"]),
        TRANSLATE: ({"system": ICD, "code": "E11.9"}, ["conceptMap", "source", "target"]),
    }
    for path, (query, names) in not_served.items():
        for name in names:
            refused = issue(client.get(path, params={**query, name: "x"}, headers=engine), 400, "not-supported")
            assert refused["expression"] == [name], (path, name)


def test_the_coded_input_forms_of_value_set_validate_code_and_translate(
    client: TestClient, engine: dict[str, str]
) -> None:
    def vs_validate(*extra: dict[str, Any]) -> dict[str, Any]:
        body = {"resourceType": "Parameters", "parameter": [{"name": "url", "valueUri": f"{ICD}?fhir_vs=isa/E11"},
                                                             *extra]}
        return resource(client.post(VS_VALIDATE, json=body, headers=engine), "Parameters")

    by_coding = vs_validate({"name": "coding", "valueCoding": {"system": ICD, "code": "E11.21"}})
    assert (param(by_coding, "result"), param(by_coding, "display")) == (
        True, "Type 2 diabetes mellitus with diabetic nephropathy")
    by_concept = vs_validate({"name": "codeableConcept", "valueCodeableConcept": {"coding": [
        {"system": ICD, "code": "I10"}]}})
    assert param(by_concept, "result") is False
    code = [{"name": "system", "valueUri": ICD}, {"name": "code", "valueCode": "E11"}]
    assert param(vs_validate(*code), "result") is True
    assert param(vs_validate(*code, {"name": "abstract", "valueBoolean": False}), "result") is False
    wrong = vs_validate(*code, {"name": "display", "valueString": "Diabetes"})
    assert param(wrong, "result") is False and "the display 'Diabetes'" in param(wrong, "message")

    plain = resource(client.get(TRANSLATE, params={"system": ICD, "code": "E11.9"}, headers=engine), "Parameters")
    for given in ({"name": "coding", "valueCoding": {"system": ICD, "code": "E11.9"}},
                  {"name": "codeableConcept", "valueCodeableConcept": {"coding": [{"system": ICD, "code": "E11.9"}]}}):
        posted = resource(client.post(TRANSLATE, json={"resourceType": "Parameters", "parameter": [given]},
                                      headers=engine), "Parameters")
        assert posted == plain
