"""kill -9 of Neo4j in the middle of a load: the loader ends with one clear line, `codegraph neo4j start` waits
for the crash recovery saying so, and the same load again gives a clean load's graph."""

from __future__ import annotations

from pathlib import Path

import pytest

from codegraph.db import empty_graph
from codegraph.runtime.local_server import RecoveryWatch
from tests.faults.conftest import RELEASE, load_args
from tests.faults.harness import (
    FaultServer,
    Fingerprint,
    fingerprint,
    release_status,
    run_writing,
    runs,
)

pytestmark = pytest.mark.faults


def test_kill9_of_neo4j_mid_load_then_restart_and_rerun_equals_a_clean_load(
    loads_server: FaultServer, codes_file: Path, clean_fingerprint: Fingerprint
) -> None:
    with loads_server.driver() as driver:
        empty_graph(driver)
        loader = loads_server.popen(*load_args(codes_file))

        try:
            crashed_run = run_writing(driver, loader, "Neo4j was killed")
            loads_server.kill9()
            _, stderr = loader.communicate(timeout=180)  # the driver retries for 30 s, then the load gives up
        finally:
            if loader.poll() is None:
                loader.kill()
                loader.communicate()

    assert loader.returncode == 1
    assert "Traceback" not in stderr and "Transaction failed" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: Neo4j became unreachable during batch ") and f" of {RELEASE} (" in lines[0]
    assert lines[0].endswith("nothing of this release is visible; run the same command again"), lines[0]

    watch = RecoveryWatch.from_end(loads_server.local.logs_dir / "debug.log")
    started = loads_server.cli("neo4j", "start", timeout=1200)
    assert started.returncode == 0, started.stderr
    said = " ".join(started.stderr.split())
    assert "Neo4j is recovering after an unclean shutdown" in said and "Neo4j recovered after" in said, said
    watch.poll()
    assert watch.state == "recovered" and watch.percent == 100, "the server's own log shows the recovery"

    with loads_server.driver() as driver:
        assert release_status(driver, RELEASE) == "staging", "nothing of the release is visible after the crash"
        assert [r["status"] for r in runs(driver)] == ["running"], "the crashed run is left for the next load"
        rerun = loads_server.cli(*load_args(codes_file))
        assert rerun.returncode == 0, rerun.stderr
        after = fingerprint(driver)
        print(f"clean load: {clean_fingerprint}\nafter kill -9 of Neo4j, restart and a rerun: {after}")
        assert after == clean_fingerprint
        recorded = {r["id"]: r for r in runs(driver)}
        assert recorded[crashed_run]["status"] == "failed" and "process died" in recorded[crashed_run]["error"]
        assert release_status(driver, RELEASE) == "visible"
