"""The code lookup answered below the framework sends exactly what the route sends, and leaves every request
it cannot answer from memory (no key, unknown code, bad date, unknown query) to the app, which explains it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from graph_service.app import create_app
from graph_service.fast_lane import MEMORY_ROUTES
from tests.graph_service.lane import ROUTED, lane_counts, post_both_ways, until_answered_in_lane

pytestmark = pytest.mark.usefixtures("reference_graph")

CODES = ["S72.001A", "E11.65", "E11", "I50.23", "CH19", "A00-A09", "s72001a"]


def test_fast_lane_sends_the_routes_bytes(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    queries = ({}, {"release": "FY2026"}, {"date": "2025-11-03"}, {"release": "FY2024"})
    for query in queries:
        until_answered_in_lane(client, lambda q=query: client.get("/v1/codes/icd10cm/E11.9", params=q,
                                                                headers=engine))
    served = 0
    for code in CODES:
        for query in queries:
            answered, passed_on = lane_counts(client)
            fast = client.get(f"/v1/codes/icd10cm/{code}", params=query, headers=engine)
            # A query parameter the lane does not know sends the request through the router to the route.
            routed = client.get(f"/v1/codes/icd10cm/{code}", params={**query, "trace": "1"}, headers=engine)
            assert fast.status_code == routed.status_code, (code, query, routed.text[:200])
            assert fast.content == routed.content, (code, query)
            assert fast.headers["content-type"] == routed.headers["content-type"]
            assert fast.headers["content-length"] == routed.headers["content-length"]
            if routed.status_code == 200:  # answered in the lane; the routed copy went through the app
                assert lane_counts(client) == (answered + 1, passed_on + 1), (code, query)
                served += 1
            else:  # a header code is not in the FY2024 code list: both went to the app, which says so
                assert routed.status_code == 404 and lane_counts(client) == (answered, passed_on + 2), (code, query)
    assert served >= 24


@pytest.mark.parametrize(("path", "query", "keyed", "status"), [
    ("/v1/codes/icd10cm/S72.001A", {}, False, 401),                         # no key
    ("/v1/codes/icd10cm/Z99.999", {}, True, 404),                           # no such code
    ("/v1/codes/icd10cm/E11.A", {"date": "2025-09-30"}, True, 404),         # not yet in force that day
    ("/v1/codes/icd10cm/E11.9", {"date": "2025-13-01"}, True, 422),         # not a date
    ("/v1/codes/icd10cm/E11.9", {"release": "FY1999"}, True, 404),          # no such release
    ("/v1/codes/nosuchsystem/E11.9", {}, True, 404),                        # no such code system
])
def test_what_the_lane_cannot_answer_the_app_explains(client: TestClient, engine, path: str, query: dict[str, str],
                                                      keyed: bool, status: int) -> None:  # type: ignore[no-untyped-def]
    answered, passed_on = lane_counts(client)
    r = client.get(path, params=query, headers=engine if keyed else {})
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"] == "application/problem+json" and r.json()["detail"]
    assert lane_counts(client) == (answered, passed_on + 1)


def test_a_revoked_looking_key_is_refused_by_the_app(client: TestClient) -> None:
    answered, _ = lane_counts(client)
    r = client.get("/v1/codes/icd10cm/E11.9", headers={"X-API-Key": "cg_engine_not-a-key"})
    assert r.status_code == 401 and lane_counts(client)[0] == answered


# ---- the JSON POSTs answered from memory (MEMORY_ROUTES) ------------------------------------------------
VALIDATE = "/v1/validate/codes"


def _validation(*codes: str, day: str = "2025-11-03") -> dict[str, object]:
    return {"codes": [{"system": "icd10cm", "code": c} for c in codes], "date_of_service": day}


def test_a_memory_route_is_answered_in_the_lane_with_the_routes_bytes(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    bodies = [_validation("E11.9", "E10.9"), _validation("S72.001A", "Z99.999", "E11"),
              _validation("E11.A", day="2025-09-30"), _validation("e119", day="2026-03-01")]
    for body in bodies:
        # each date's release table is built on first use
        until_answered_in_lane(client, lambda b=body: client.post(VALIDATE, json=b, headers=engine))
        answered, passed_on = lane_counts(client)
        post_both_ways(client, VALIDATE, body, engine)
        assert lane_counts(client) == (answered + 1, passed_on + 1), body


@pytest.mark.parametrize(("content", "kind", "keyed", "status", "says"), [
    (b'{"codes": [{"code": "E11.9"}], "date_of_service": "2025-11-03"}', "application/json", False, 401, "X-API-Key"),
    (b'{"codes": [{"code": "E11.9"}],\n "date_of_service": }', "application/json", True, 422, "line 2, column"),
    (b'{"codes": [{"code": "E11.9"}], "when": "2025-11-03"}', "application/json", True, 422, "when"),  # unknown field
    (b'{"codes": []}', "application/json", True, 422, "codes"),                                    # too few codes
    (b'{"codes": [{"code": "E11.9"}]}', "text/plain", True, 422, ""),                             # not declared JSON
])
def test_a_post_the_lane_cannot_answer_goes_to_the_app_with_its_body(
        client: TestClient, engine, content: bytes, kind: str, keyed: bool, status: int, says: str) -> None:  # type: ignore[no-untyped-def]
    answered, passed_on = lane_counts(client)
    r = client.post(VALIDATE, content=content, headers={"content-type": kind, **(engine if keyed else {})})
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"] == "application/problem+json" and says in r.text
    assert lane_counts(client) == (answered, passed_on + 1)


def test_an_oversized_body_is_refused_by_the_app_unread(settings, api_keys) -> None:  # type: ignore[no-untyped-def]
    small = settings.model_copy(update={"max_request_bytes": 200, "api_keys": ",".join(
        line for _, line in api_keys.values())})
    with TestClient(create_app(small), raise_server_exceptions=False) as c:
        r = c.post(VALIDATE, json=_validation(*[f"E11.{i}" for i in range(10)]),
                   headers={"X-API-Key": api_keys["engine"][0]})
        assert r.status_code == 413 and "200 bytes" in r.json()["detail"]
        assert lane_counts(c) == (0, 1)


def test_each_memory_route_mirrors_a_route_every_role_may_call(client: TestClient, api_keys) -> None:  # type: ignore[no-untyped-def]
    """The lane admits any key, validates with its own model and runs its own service: each entry must be the
    route's body model, and the route must admit every role (else the lane would answer a caller it refuses)."""
    paths = client.get("/openapi.json").json()["paths"]
    for path, lane in MEMORY_ROUTES.items():
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body["$ref"].rsplit("/", 1)[1] == lane.body.__name__, path
        example = lane.body.model_config.get("json_schema_extra", {}).get("examples", [{}])[0]  # type: ignore[union-attr]
        for role, (key, _) in api_keys.items():
            r = client.post(path, json=example, headers={"X-API-Key": key}, params=ROUTED)
            assert r.status_code not in (401, 403), (path, role, r.text[:200])
