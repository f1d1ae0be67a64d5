"""A shorter run of bench/soak.py in the suite: concurrent clients across lookup, validation, claim edits,
derivation, DRG and audit endpoints of the real `codegraph serve`, Neo4j restarted half-way: no 5xx outside the
restart window, every 503 with Retry-After, no hung request, the API's RSS flat."""

from __future__ import annotations

import pytest

from bench.soak import passed, soak
from codegraph.runtime.local_server import LocalNeo4j
from tests.faults.harness import FaultServer

pytestmark = pytest.mark.faults


def test_a_short_soak_with_a_neo4j_restart() -> None:
    server = FaultServer.create("soak", 1, heap="768m", pagecache="256m")
    try:
        result = soak(server.settings, clients=16, seconds=20, workers=2, hang_s=60)
    finally:
        LocalNeo4j(server.settings).stop()
    print({k: v for k, v in result.items() if k != "by_endpoint"})
    assert result["violation_count"] == 0, (result["violations"], result["server_errors"])
    assert result["hung"] == 0
    assert result["restart_window_s"] is not None, "the restart happened inside the run"
    assert result["in_window_503"] > 0, "clients were answered 503 while Neo4j was down"
    assert passed(result, max_rss_growth=1.25), (result["rss_before_mib"], result["rss_after_mib"])
    for endpoint, statuses in result["by_endpoint"].items():
        assert not [s for s in statuses if s.startswith("5") and s != "503"], (endpoint, statuses)
