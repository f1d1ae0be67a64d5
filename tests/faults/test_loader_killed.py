"""kill -9 of the loader in the middle of a load, then the same command again: nothing of the release was ever
visible, the rerun's graph equals a clean load's, and the killed run is recorded as failed."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from codegraph.db import empty_graph
from tests.faults.conftest import RELEASE, load_args
from tests.faults.harness import (
    FaultServer,
    Fingerprint,
    fingerprint,
    release_status,
    rows_of_run,
    run_writing,
    runs,
)

pytestmark = pytest.mark.faults


def test_kill9_of_the_loader_mid_load_then_rerun_equals_a_clean_load(
    loads_server: FaultServer, codes_file: Path, clean_fingerprint: Fingerprint
) -> None:
    with loads_server.driver() as driver:
        empty_graph(driver)
        loader = loads_server.popen(*load_args(codes_file))
        try:
            def never_visible() -> None:
                assert release_status(driver, RELEASE) != "visible"

            killed_run = run_writing(driver, loader, "it was killed", never_visible)
            loader.send_signal(signal.SIGKILL)
            loader.wait(30)
        finally:
            if loader.poll() is None:
                loader.kill()
            loader.communicate()
        assert loader.returncode == -signal.SIGKILL
        assert rows_of_run(driver, killed_run) > 0, "the kill left the run's rows behind, as a crash does"
        assert release_status(driver, RELEASE) == "staging", "a killed load is never visible"
        listed = loads_server.cli("release", "list", "icd10cm")
        assert listed.returncode == 0 and RELEASE not in listed.stdout

        rerun = loads_server.cli(*load_args(codes_file))
        assert rerun.returncode == 0, rerun.stderr
        assert f"cleaning up crashed run {killed_run}" in " ".join(rerun.stderr.split())
        after = fingerprint(driver)
        print(f"clean load: {clean_fingerprint}\nafter kill -9 of the loader and a rerun: {after}")
        assert after == clean_fingerprint
        recorded = {r["id"]: r for r in runs(driver)}
        assert recorded[killed_run]["status"] == "failed"
        assert "process died" in recorded[killed_run]["error"]
        assert sorted(r["status"] for r in recorded.values()) == ["completed", "failed"]
        assert release_status(driver, RELEASE) == "visible"
