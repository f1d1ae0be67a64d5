"""One request contract across the API: unknown fields, body size, malformed JSON, offline docs, described
endpoints with examples, the release used without a date, request order, one patient vocabulary."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from tests.graph_service.test_derivation_api import _derive, _groups, graph  # noqa: F401  (the fixture)

PATH_VALUES = {"name": "code_history", "encounter_id": "enc-0000001", "release_id": "icd10cm@FY2026",
               "system": "icd10cm", "code": "E11.9"}


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    spec = client.get("/openapi.json").json()
    found = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if path.startswith("/v1/") or path in ("/healthz", "/readyz"):
                found.append((method, path, op, spec))
    return found


def _body_schema(op: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any] | None:
    schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if schema and "$ref" in schema:
        return spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m[1], "x"), path)


def test_unknown_fields_are_refused_naming_the_field_on_every_endpoint(client: TestClient, maintainer) -> None:  # type: ignore[no-untyped-def]
    checked = []
    for method, path, op, spec in _operations(client):
        schema = _body_schema(op, spec)
        if method != "post" or schema is None or schema.get("type") != "object" or "properties" not in schema:
            continue  # a FHIR Bundle is a free-form resource, not a request model
        body = dict((schema.get("examples") or [{}])[0]) | {"unexpected_field": 1}
        r = client.post(_url(path), json=body, headers=maintainer)
        assert r.status_code == 422, (path, r.status_code, r.text)
        assert "unexpected_field" in r.json()["detail"], (path, r.json()["detail"])
        checked.append(path)
    assert {"/v1/validate/codes", "/v1/coverage", "/v1/derive/icd10cm", "/v1/edits/claim", "/v1/drg/group",
            "/v1/drg/what-if", "/v1/drg/opportunities", "/v1/cypher", "/v1/queries/{name}",
            "/v1/encounters/{encounter_id}/coding"} <= set(checked)


def test_every_endpoint_has_a_description_and_an_example_request(client: TestClient) -> None:
    for method, path, op, spec in _operations(client):
        if path.startswith(("/v1/assignments", "/v1/releases/{release_id}")) or "evaluation" in path:
            continue  # owned and documented with the evaluation and release-lifecycle work
        assert op.get("description"), f"{method.upper()} {path} has no description"
        schema = _body_schema(op, spec)
        if schema is not None and "properties" in schema:
            assert schema.get("examples"), f"{method.upper()} {path}: the request body has no example"
        else:
            assert "Example" in op["description"], f"{method.upper()} {path}: no example request in its description"


def test_example_bodies_are_valid_requests(client: TestClient, maintainer, clean_graph: Driver) -> None:  # type: ignore[no-untyped-def]
    for method, path, op, spec in _operations(client):
        schema = _body_schema(op, spec)
        if method == "post" and schema and schema.get("examples"):
            r = client.post(_url(path), json=schema["examples"][0], headers=maintainer)
            # A 422 may say the graph lacks data (no MS-DRG tables); never that the example is malformed.
            assert r.status_code != 422 or "errors" not in r.json(), (path, r.text)


def test_a_body_over_the_limit_is_413(settings: Settings, api_keys) -> None:  # type: ignore[no-untyped-def]
    from graph_service.app import create_app

    small = settings.model_copy(update={"max_request_bytes": 2000,
                                        "api_keys": ",".join(v[1] for v in api_keys.values())})
    body = {"codes": [{"code": "E11.9"}] * 200}
    with TestClient(create_app(small)) as c:
        r = c.post("/v1/validate/codes", json=body, headers={"X-API-Key": api_keys["engine"][0]})
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json" and "2,000 bytes" in r.json()["detail"]
    assert Settings().max_request_bytes == 5 * 1024 * 1024


def test_malformed_json_names_line_and_column(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    text = '{\n  "codes": [\n    {"code": "E11.9",}\n  ]\n}'
    r = client.post("/v1/validate/codes", content=text, headers={**engine, "Content-Type": "application/json"})
    assert r.status_code == 422
    problem = r.json()
    assert "line 3, column 22" in problem["detail"], problem
    assert (problem["line"], problem["column"]) == (3, 22)


@pytest.mark.parametrize(("page", "asset"), [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")])
def test_docs_are_served_without_a_cdn(client: TestClient, page: str, asset: str) -> None:
    html = client.get(page)
    assert html.status_code == 200
    assert "cdn." not in html.text and "fonts.googleapis" not in html.text
    src = re.search(rf'"([^"]*{re.escape(asset)})"', html.text)
    assert src is not None, html.text
    js = client.get(src.group(1))
    assert js.status_code == 200 and len(js.content) > 100_000


@pytest.mark.usefixtures("reference_graph")
def test_no_date_of_service_uses_the_latest_release_and_says_so(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    out = client.post("/v1/validate/codes", json={"codes": [{"code": "E11.9"}]}, headers=engine).json()
    assert out["codes"][0]["exists"] is True and out["codes"][0]["valid_on_date"] is True
    assert out["release_used"] == {"icd10cm": "icd10cm@FY2026"}
    assert "latest visible release" in out["release_note"]
    dated = client.post("/v1/validate/codes", json={"codes": [{"code": "E11.9"}], "date_of_service": "2024-11-03"},
                        headers=engine).json()
    assert dated["release_used"] == {"icd10cm": "icd10cm@FY2025"} and dated["release_note"] is None


@pytest.mark.usefixtures("reference_graph")
def test_results_keep_the_request_order_with_their_position(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    codes = [{"system": "icd10cm", "code": "E11.9"}, {"system": "cpt", "code": "99213"},
             {"system": "icd10cm", "code": "I10"}]
    out = client.post("/v1/validate/codes", json={"codes": codes, "date_of_service": "2025-11-03"},
                      headers=engine).json()
    assert [(c["position"], c["code"]) for c in out["codes"]] == [(0, "E11.9"), (1, "99213"), (2, "I10")]


def test_patient_vocabulary_sex_and_age_units(graph: Driver, client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    # 233604007 (pneumonia): priority 1 is "age (for onset) < 28 days", else J18.9.
    weeks = _groups(_derive(client, engine, ["233604007"], age={"value": 2, "unit": "weeks"}, sex="other"),
                    "233604007")[0]
    assert weeks["explanation"][0]["outcome"] == "true"  # 2 weeks = 14 days < 28 days
    born = client.post("/v1/derive/icd10cm", headers=engine, json={
        "concepts": ["233604007"], "date": "2025-11-03", "patient": {"birth_date": "2022-01-01"}})
    assert born.status_code == 200, born.text
    assert _groups(born.json(), "233604007")[0]["code"]["code"] == "J18.9"
    no_sex = client.post("/v1/derive/icd10cm", headers=engine, json={"concepts": ["233604007"], "patient": {}})
    assert no_sex.status_code == 200 and no_sex.json()["patient"]["sex"] is None  # absent stays "not given"
    bad = client.post("/v1/derive/icd10cm", headers=engine, json={
        "concepts": ["233604007"], "patient": {"sex": "F", "age": {"value": 3, "unit": "fortnights"}}})
    assert bad.status_code == 422 and "sex" in bad.json()["detail"] and "unit" in bad.json()["detail"]


def test_otherwise_true_without_a_target_is_an_answer(graph: Driver, client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    adult = {"age": {"value": 60, "unit": "years"}, "sex": "male"}
    body = _derive(client, engine, ["127013003"], others=("59621000",), **adult)
    second = _groups(body, "127013003")[1]
    assert (second["status"], second["code"]) == ("no_target", None)
    assert second["map_category"] == "447638001"
    assert second["answer"] == ("no ICD-10-CM code for this group: map source concept cannot be classified with "
                                "the available data")
