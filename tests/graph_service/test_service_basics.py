"""Health, readiness, keys and roles, the error model, and recovery when Neo4j is unreachable."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.testclient import TestClient

from codegraph.settings import Settings
from graph_service.app import create_app
from graph_service.deps import Maintainer
from graph_service.security import hash_key, parse_key_hashes


def test_health_and_readiness_are_open_and_report_the_neo4j_version(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "neo4j": None, "missing_schema": []}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["neo4j"] == "Neo4j/5.26.30"


def test_no_key_is_401_and_unknown_key_is_401_as_problem_json(client: TestClient) -> None:
    r = client.get("/v1/releases")
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["title"] == "Missing or unknown API key"
    assert client.get("/v1/releases", headers={"X-API-Key": "cg_engine_nope"}).status_code == 401


def test_each_role_reads_releases(client: TestClient, engine, auditor, maintainer) -> None:  # type: ignore[no-untyped-def]
    for headers in (engine, auditor, maintainer):
        assert client.get("/v1/releases", headers=headers).status_code == 200


def test_keys_are_kept_only_as_hashes() -> None:
    hashes = parse_key_hashes(f"engine:{hash_key('secret-1')}, auditor:{hash_key('secret-2')}")
    assert "secret-1" not in str(hashes) and len(hashes) == 2
    try:
        parse_key_hashes("superuser:abc")
    except ValueError as exc:
        assert "role:sha256hex" in str(exc)
    else:
        raise AssertionError("a malformed key entry was accepted")


def test_a_role_not_allowed_gets_403(settings: Settings, api_keys) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings.model_copy(update={"api_keys": ",".join(v[1] for v in api_keys.values())}))
    probe = APIRouter()

    @probe.get("/v1/maintainer-only")
    def only(_: Maintainer) -> dict[str, str]:
        return {"ok": "yes"}

    app.include_router(probe)
    with TestClient(app) as c:
        r = c.get("/v1/maintainer-only", headers={"X-API-Key": api_keys["engine"][0]})
        assert r.status_code == 403 and "engine" in r.json()["detail"]
        assert c.get("/v1/maintainer-only", headers={"X-API-Key": api_keys["maintainer"][0]}).status_code == 200


def test_bad_query_parameters_are_422_problems_not_500(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/v1/codes/icd10cm/I50/descendants?limit=0", headers=engine)
    assert r.status_code == 422 and r.json()["status"] == 422 and "limit" in r.json()["detail"]
    r = client.get("/v1/codes/icd10cm/I50?date=yesterday", headers=engine)
    assert r.status_code == 422


def test_unknown_system_is_404(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/v1/codes/icd9/250.00", headers=engine)
    assert r.status_code == 404 and "unknown code system" in r.json()["detail"]


def test_unreachable_neo4j_is_503_with_retry_after(settings: Settings, api_keys) -> None:  # type: ignore[no-untyped-def]
    down = settings.model_copy(update={
        "neo4j_uri": "bolt://127.0.0.1:1", "api_keys": ",".join(v[1] for v in api_keys.values()),
    })
    with TestClient(create_app(down), raise_server_exceptions=False) as c:
        r = c.get("/v1/releases", headers={"X-API-Key": api_keys["engine"][0]})
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        assert c.get("/readyz").status_code == 503
