"""Neo4j stopped while the real API serves concurrent clients: every request is answered within a bounded time
(none hangs, none is a 500); those that need the graph get 503 with Retry-After; and once Neo4j is back the same
API processes answer again, without a restart."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from bench.served import Server, free_port, real_command, served
from codegraph.db import empty_graph
from graph_service.security import Role, new_key
from tests.faults.harness import REPO, FaultServer, wait_until

pytestmark = pytest.mark.faults

TABULAR = REPO / "tests" / "fixtures" / "icd10cm" / "icd10cm-tabular-excerpt.xml"
CLIENTS = 16
BOUND_S = 15.0  # no answer may take longer: the service's driver gives up on an unreachable Neo4j in ~3 s
# (method, path, json body): lookups held in memory, and requests that must go to the graph.
GRAPH_REQUESTS = [
    ("GET", "/readyz", None),
    ("GET", "/v1/search?q=cholera&system=icd10cm", None),
    ("POST", "/v1/cypher", {"query": "MATCH (c:ICD10CMCode) RETURN count(c) AS n"}),
]
MEMORY_REQUESTS = [
    ("GET", "/healthz", None),
    ("GET", "/v1/codes/icd10cm/A00", None),
    ("GET", "/v1/codes/icd10cm/A00/ancestors", None),
]


@dataclass
class Tally:
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    slowest_s: float = 0.0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, path: str, status: int, seconds: float, retry_after: str | None, ctype: str) -> None:
        with self.lock:
            self.statuses[(path.split("?")[0], status)] += 1
            self.slowest_s = max(self.slowest_s, seconds)
            if status >= 500 and status != 503:
                self.failures.append(f"{path}: {status}")
            if status == 503 and not (retry_after and ctype.startswith("application/problem+json")):
                self.failures.append(f"{path}: 503 without Retry-After/problem+json")


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FaultServer, Server, str]]:
    neo4j = FaultServer.create("api", 1)
    neo4j.start()
    try:
        with neo4j.driver() as driver:
            empty_graph(driver)
        loaded = neo4j.cli("load", "icd10cm", str(TABULAR), "--release", "FY2026")
        assert loaded.returncode == 0, loaded.stderr
        key, line = new_key(Role.auditor)
        port = free_port()
        with served("api-faults", real_command(port, 2), port, tmp_path_factory.mktemp("api-faults"), workers=2,
                    ready_path="/readyz", env={**neo4j.env, **_this_server(neo4j), "CODEGRAPH_API_KEYS": line},
                    timeout_s=300) as api:
            yield neo4j, api, key
    finally:
        neo4j.stop()


def _this_server(neo4j: FaultServer) -> dict[str, str]:
    """Named, not only left out of ``neo4j.env``: ``served`` merges its env over os.environ, which in CI carries
    the session server's NEO4J_URI/PASSWORD, and the API would then serve (and survive the stop of) another graph."""
    return {"NEO4J_URI": neo4j.settings.bolt_uri, "NEO4J_USER": "neo4j", "NEO4J_DATABASE": "neo4j",
            "NEO4J_PASSWORD": neo4j.settings.password_file.read_text().strip()}


def _hammer(base: str, key: str, requests: list, tally: Tally, stop: threading.Event) -> None:  # type: ignore[type-arg]
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=BOUND_S + 5) as client:
        i = 0
        while not stop.is_set():
            method, path, body = requests[i % len(requests)]
            i += 1
            t0 = time.monotonic()
            try:
                r = client.request(method, path, json=body)
            except httpx.TimeoutException:
                with tally.lock:
                    tally.failures.append(f"{path}: no answer within {BOUND_S + 5:.0f}s")
                continue
            tally.record(path, r.status_code, time.monotonic() - t0, r.headers.get("retry-after"),
                         r.headers.get("content-type", ""))


def _run_clients(api: Server, key: str, requests: list, seconds: float) -> Tally:  # type: ignore[type-arg]
    tally, stop = Tally(), threading.Event()
    threads = [threading.Thread(target=_hammer, args=(api.base_url, key, requests[i % len(requests):]
                                                      + requests[:i % len(requests)], tally, stop))
               for i in range(CLIENTS)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(BOUND_S + 10)
        assert not t.is_alive(), "a client is still waiting for an answer"
    return tally


def test_neo4j_stopped_under_concurrent_clients_gives_bounded_503s_and_the_api_recovers(
    api_server: tuple[FaultServer, Server, str],
) -> None:
    neo4j, api, key = api_server
    everything = GRAPH_REQUESTS + MEMORY_REQUESTS
    before = _run_clients(api, key, everything, 3)
    assert not before.failures and {s for (_, s) in before.statuses} == {200}, before.statuses

    neo4j.stop()
    down = _run_clients(api, key, everything, 15)
    print(f"Neo4j down, {CLIENTS} clients for 15 s: {dict(down.statuses)}; slowest answer {down.slowest_s:.1f}s")
    assert not down.failures, down.failures[:10]
    assert down.slowest_s <= BOUND_S
    for _, path, _ in GRAPH_REQUESTS:
        answered = {s for (p, s), n in down.statuses.items() if p == path.split("?")[0]}
        assert answered == {503}, (path, answered)
    for _, path, _ in MEMORY_REQUESTS:
        assert {s for (p, s) in down.statuses if p == path} == {200}, (path, "held in memory, no graph needed")

    neo4j.start()
    with httpx.Client(base_url=api.base_url, headers={"X-API-Key": key}, timeout=BOUND_S + 5) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, 120, "the API to see Neo4j again", 0.5)
    after = _run_clients(api, key, everything, 3)
    print(f"Neo4j back, same API processes: {dict(after.statuses)}")
    assert not after.failures and {s for (_, s) in after.statuses} == {200}, after.statuses
