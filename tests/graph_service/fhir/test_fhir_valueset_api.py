"""ValueSet $expand and $validate-code on implicit ICD-10-CM value sets, and /fhir against /v1 on a sample."""

from __future__ import annotations

import random

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from tests.graph_service.fhir.conftest import issue, param, parameters, params, properties, resource

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
EXPAND = "/fhir/ValueSet/$expand"
pytestmark = pytest.mark.usefixtures("reference_graph")


def _expand(client: TestClient, headers: dict[str, str], **query: object) -> dict[str, object]:
    return resource(client.get(EXPAND, params=query, headers=headers), "ValueSet")


def test_a_chapter_expands_in_pages_like_v1_descendants(client: TestClient, engine: dict[str, str]) -> None:
    first = _expand(client, engine, url=f"{ICD}?fhir_vs=isa/CH09", count=100)
    v1 = client.get("/v1/codes/icd10cm/CH09/descendants", params={"limit": 199}, headers=engine).json()
    expansion = first["expansion"]
    assert (expansion["total"], expansion["offset"]) == (v1["total"] + 1, 0)
    codes = [c["code"] for c in expansion["contains"]]
    assert codes == ["CH09"] + [i["code"] for i in v1["items"][:99]]
    assert expansion["contains"][0]["abstract"] is True and "abstract" not in expansion["contains"][-1]
    assert {c["version"] for c in expansion["contains"]} == {"FY2026"}
    second = _expand(client, engine, url=f"{ICD}?fhir_vs=isa/CH09", count=100, offset=100)["expansion"]
    assert [c["code"] for c in second["contains"]] == [i["code"] for i in v1["items"][99:199]]
    assert [c["display"] for c in second["contains"]] == [i["title"] for i in v1["items"][99:199]]


def test_a_category_and_an_older_release_and_the_whole_system(client: TestClient, engine: dict[str, str]) -> None:
    e11 = _expand(client, engine, url=f"{ICD}?fhir_vs=isa/E11", count=1000)["expansion"]
    assert [c["code"] for c in e11["contains"][:3]] == ["E11", "E11.0", "E11.00"]
    assert e11["total"] == len(e11["contains"]) and "E11.9" in {c["code"] for c in e11["contains"]}
    fy2025 = _expand(client, engine, url=f"{ICD}?fhir_vs", valueSetVersion="FY2025", count=3)["expansion"]
    cs = resource(client.get("/fhir/CodeSystem/icd10cm-FY2025", headers=engine), "CodeSystem")
    assert fy2025["total"] == cs["count"] and {c["version"] for c in fy2025["contains"]} == {"FY2025"}
    posted = resource(client.post(EXPAND, json=parameters(url=f"{ICD}?fhir_vs=isa/E11.2", count=10), headers=engine),
                      "ValueSet")
    assert [c["code"] for c in posted["expansion"]["contains"]] == ["E11.2", "E11.21", "E11.22", "E11.29"]


def test_filter_uses_the_search_index_of_v1(client: TestClient, engine: dict[str, str]) -> None:
    v1 = client.get("/v1/search", params={"q": "diabetic nephropathy", "limit": 200}, headers=engine).json()
    everything = _expand(client, engine, url=f"{ICD}?fhir_vs", filter="diabetic nephropathy", count=200)["expansion"]
    assert everything["total"] == v1["total"] > 0
    assert [c["code"] for c in everything["contains"]] == [i["code"] for i in v1["items"]]
    within = _expand(client, engine, url=f"{ICD}?fhir_vs=isa/E11", filter="diabetic nephropathy")["expansion"]
    assert [c["code"] for c in within["contains"]] == [i["code"] for i in v1["items"] if i["code"].startswith("E11")]
    assert {"name": "filter", "valueString": "diabetic nephropathy"} in within["parameter"]


def test_validate_code_against_a_subtree(client: TestClient, engine: dict[str, str]) -> None:
    def validate(url: str, code: str) -> dict[str, object]:
        return resource(client.get("/fhir/ValueSet/$validate-code", params={"url": url, "system": ICD, "code": code},
                                   headers=engine), "Parameters")

    assert param(validate(f"{ICD}?fhir_vs=isa/E11", "E11.21"), "result") is True
    outside = validate(f"{ICD}?fhir_vs=isa/E11", "I10")
    assert param(outside, "result") is False and "not E11 or a descendant" in param(outside, "message")
    assert param(validate(f"{ICD}?fhir_vs=isa/CH04", "E11.21"), "result") is True
    assert param(validate(f"{ICD}?fhir_vs", "Z99.999"), "result") is False


def test_value_set_errors(client: TestClient, engine: dict[str, str]) -> None:
    issue(client.get(EXPAND, params={"url": f"{ICD}?fhir_vs=isa/Q99.999"}, headers=engine), 404, "not-found")
    issue(client.get(EXPAND, params={"url": f"{ICD}?fhir_vs=refset/1"}, headers=engine), 400, "invalid")
    issue(client.get(EXPAND, params={"url": "http://example.org/vs"}, headers=engine), 404, "not-found")
    issue(client.get(EXPAND, params={"url": f"{ICD}?fhir_vs", "count": "5000"}, headers=engine), 400, "invalid")
    issue(client.get(EXPAND, params={"url": f"{ICD}?fhir_vs", "offset": "-1"}, headers=engine), 400, "invalid")
    issue(client.get(EXPAND, headers=engine), 400, "required")


def test_fhir_and_v1_agree_on_a_sample_of_codes(
    client: TestClient, engine: dict[str, str], reference_graph: Driver
) -> None:
    records, _, _ = reference_graph.execute_query(
        "MATCH (c:Code)-[:IN_RELEASE]->(:Release {id: 'icd10cm@FY2026'}) RETURN c.code AS code ORDER BY code")
    sample = [*random.Random(13).sample([r["code"] for r in records], 60), "E11", "I10", "CH09", "E08-E13"]
    for code in sample:
        v1 = client.get(f"/v1/codes/icd10cm/{code}", headers=engine).json()
        body = resource(client.get("/fhir/CodeSystem/$lookup", params={"system": ICD, "code": code}, headers=engine),
                        "Parameters")
        assert param(body, "display") == v1["title"], code
        assert properties(body, "billable") == ([v1["billable"]] if v1["billable"] is not None else []), code
        assert properties(body, "parent") == [p["code"] for p in v1["parents"][:1]], code
        assert len(properties(body, "child")) == v1["children_count"], code
        assert [(p["code"].upper().replace("-", "_"), p["value"]) for p in params(body, "property")
                if p["code"] in ("excludes1", "excludes2", "code-first", "use-additional", "code-also")] == [
            (n["kind"], n["target"]["code"]) for n in v1["notes"]], code
        assert [d["value"] for d in params(body, "designation")] == v1["inclusion_terms"], code
        checked = resource(client.get("/fhir/CodeSystem/$validate-code", params={"url": ICD, "code": code},
                                      headers=engine), "Parameters")
        assert (param(checked, "result"), param(checked, "display")) == (True, v1["title"]), code
