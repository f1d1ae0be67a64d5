"""The auditors' Cypher is bounded in time, memory and concurrency; a query stopped never costs a 500 and the
service answers the next request normally."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from graph_service.app import create_app
from graph_service.services.cypher_bounds import DEADLINE_GRACE_S

# A cartesian product collected into one list: hundreds of MB on the server within seconds.
MEMORY_HOG = "UNWIND range(1, 4000) AS a UNWIND range(1, 4000) AS b RETURN size(collect([a, b, 'padding'])) AS n"
# One expression Neo4j does not interrupt at its transaction timeout (nor when asked to terminate it): quadratic
# string building in reduce. Its size is calibrated on this machine so that it runs ~HOG_SECONDS: well past the 2 s
# deadline (a fixed size finished inside it on a quiet CI machine) yet short enough that the stuck slot frees within
# the recovery test's wait (a fixed size 3x bigger held it for minutes on a busy one).
HOG_SECONDS = 10.0
_HOG = "RETURN size(reduce(s = '', x IN range(1, $steps) | s + 'xxxxxxxxxx')) AS n"
_PROBE_STEPS = 30_000


@pytest.fixture(scope="module")
def expression_hog(driver: Driver, settings: Settings) -> str:
    """The hog query, sized to run about ``HOG_SECONDS`` here (its cost grows with the square of the steps)."""
    driver.execute_query(_HOG, {"steps": _PROBE_STEPS}, database_=settings.neo4j_database)  # plan and JIT warm
    t0 = time.monotonic()
    driver.execute_query(_HOG, {"steps": _PROBE_STEPS}, database_=settings.neo4j_database)
    took = max(time.monotonic() - t0, 0.05)
    steps = int(_PROBE_STEPS * math.sqrt(HOG_SECONDS / took))
    return _HOG.replace("$steps", str(min(max(steps, _PROBE_STEPS), 400_000)))


def _client(settings: Settings, api_keys, **overrides) -> TestClient:  # type: ignore[no-untyped-def]
    bounded = settings.model_copy(update={"api_keys": ",".join(v[1] for v in api_keys.values()), **overrides})
    return TestClient(create_app(bounded), raise_server_exceptions=False)


@pytest.fixture
def fast_client(settings: Settings, api_keys, clean_graph: Driver) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with _client(settings, api_keys, cypher_timeout_s=2.0, cypher_slots=1) as c:
        yield c


def _healthy(c: TestClient, auditor: dict[str, str]) -> None:
    """The next request is answered normally, the service's liveness too."""
    ok = c.post("/v1/cypher", json={"query": "RETURN 41 + 1 AS n"}, headers=auditor)
    assert ok.status_code == 200 and ok.json()["rows"] == [{"n": 42}], ok.text
    assert c.get("/healthz").status_code == 200


def test_a_memory_hungry_query_is_stopped_with_a_4xx_and_the_service_stays_healthy(
    settings: Settings, api_keys, clean_graph: Driver, auditor  # type: ignore[no-untyped-def]
) -> None:
    with _client(settings, api_keys, cypher_timeout_s=120.0) as c:
        t0 = time.monotonic()
        r = c.post("/v1/cypher", json={"query": MEMORY_HOG}, headers=auditor)
        took = time.monotonic() - t0
        assert r.status_code == 400, r.text
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["type"] == "/problems/cypher-memory-limit" and "memory" in body["detail"]
        assert took < 120, "the memory limit, not the timeout, stopped it"
        _healthy(c, auditor)


def test_an_uninterruptible_expression_is_answered_408_at_the_deadline(
    fast_client: TestClient, auditor, expression_hog: str  # type: ignore[no-untyped-def]
) -> None:
    t0 = time.monotonic()
    r = fast_client.post("/v1/cypher", json={"query": expression_hog}, headers=auditor)
    took = time.monotonic() - t0
    assert r.status_code == 408, r.text
    assert r.headers["content-type"] == "application/problem+json" and "2s limit" in r.json()["detail"]
    assert took < 2.0 + DEADLINE_GRACE_S + 3.0, f"answered after {took:.1f}s"


def test_while_stuck_queries_hold_every_slot_the_next_one_gets_503_then_the_service_recovers(
    fast_client: TestClient, auditor, expression_hog: str  # type: ignore[no-untyped-def]
) -> None:
    assert fast_client.post("/v1/cypher", json={"query": expression_hog}, headers=auditor).status_code == 408
    busy = fast_client.post("/v1/cypher", json={"query": "RETURN 1 AS n"}, headers=auditor)
    assert busy.status_code == 503 and busy.headers["retry-after"], busy.text
    assert busy.json()["type"] == "/problems/cypher-busy"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the server finishes (or terminates) the stuck expression
        r = fast_client.post("/v1/cypher", json={"query": "RETURN 41 + 1 AS n"}, headers=auditor)
        if r.status_code == 200:
            break
        assert r.status_code == 503, r.text
        time.sleep(1)
    _healthy(fast_client, auditor)


def test_a_runaway_path_expansion_is_a_4xx_never_a_500(
    settings: Settings, api_keys, clean_graph: Driver, auditor  # type: ignore[no-untyped-def]
) -> None:
    clean_graph.execute_query(
        "UNWIND range(1, 40) AS i CREATE (:Probe {i: i}) WITH 1 AS one "
        "MATCH (a:Probe), (b:Probe) WHERE a.i < b.i AND b.i <= a.i + 3 CREATE (a)-[:NEXT]->(b)",
        database_=settings.neo4j_database,
    )
    with _client(settings, api_keys, cypher_timeout_s=2.0) as c:
        t0 = time.monotonic()
        r = c.post("/v1/cypher", json={"query": "MATCH p=()-[*]-() RETURN count(p)"}, headers=auditor)
        assert 400 <= r.status_code < 500, r.text
        assert time.monotonic() - t0 < 2.0 + DEADLINE_GRACE_S + 3.0
        _healthy(c, auditor)


def test_the_deadline_asks_the_server_to_terminate_the_query_by_its_request_tag(
    driver: Driver, settings: Settings
) -> None:
    from neo4j import Query
    from neo4j.exceptions import ClientError

    from graph_service.services.cypher_bounds import terminate_tagged

    ended: list[BaseException] = []

    def long_read() -> None:
        with driver.session(database=settings.neo4j_database) as session:
            try:
                session.run(Query("UNWIND range(1, 1000000000) AS x WITH x WHERE x < 0 RETURN count(*)",
                                  metadata={"request": "probe-tag"}, timeout=60)).consume()
            except ClientError as exc:
                ended.append(exc)

    worker = threading.Thread(target=long_read, daemon=True)  # never holds the session open if the test fails
    worker.start()
    listed = "SHOW TRANSACTIONS YIELD metaData WHERE metaData.request = 'probe-tag' RETURN count(*) AS n"
    deadline = time.monotonic() + 30
    while driver.execute_query(listed, database_=settings.neo4j_database).records[0]["n"] == 0:
        assert time.monotonic() < deadline, "the probe query never started"
        time.sleep(0.05)
    terminate_tagged(driver, settings.neo4j_database, "probe-tag")
    worker.join(30)
    assert not worker.is_alive() and ended and "Terminated" in (ended[0].code or ""), ended
