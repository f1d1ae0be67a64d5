"""The disk fills up in the middle of a load (the data dir is a small tmpfs, filled by another file once the load
writes): the load ends with one clear line, nothing of the release is visible, and once space is freed and Neo4j
restarted, the same load gives a clean load's graph.

The store's disk is the one that fills; the transaction log lives on another (``transaction.logs.root`` outside
the tmpfs), as Neo4j's production layout has it. A log append cut short by a full disk leaves a torn entry that
recovery sometimes cannot read back at all (seen in CI: the recovery's tail scan ran out of heap on it before it
could truncate), so a full log disk is a fault of Neo4j's own recovery, not of the load. The store starts empty
(the clean load's fingerprint comes from another server), so the load's pages are new ones the disk must find
room for, and the page cache is far smaller than the load: its pages are evicted to the full disk while it runs
(at a checkpoint otherwise, which a long load meets too)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from codegraph.runtime.local_server import LocalNeo4j
from tests.faults.conftest import RELEASE, load_args
from tests.faults.harness import FaultServer, Fingerprint, fingerprint, release_status, run_writing, runs

pytestmark = pytest.mark.faults
TMPFS_SIZE = "200m"
# Far below the load's store: its new pages are evicted to the disk while it runs.
STORE_PAGECACHE = "1m"


class SmallDiskNeo4j(LocalNeo4j):
    def write_config(self) -> None:
        super().write_config()
        with (self.conf_dir / "neo4j.conf").open("a") as conf:
            conf.write(f"server.directories.transaction.logs.root={self.home / 'transactions'}\n")


class SmallDiskServer(FaultServer):
    @property
    def local(self) -> LocalNeo4j:
        return SmallDiskNeo4j(self.settings)


def _fill(data: Path) -> Path:
    """Take every free byte of the data dir's file system."""
    filler = data / "filler"
    stat = os.statvfs(data)
    subprocess.run(["fallocate", "-l", str(stat.f_bavail * stat.f_frsize), str(filler)], check=False, timeout=60)
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k", "oflag=append", "conv=notrunc"],
                   capture_output=True, check=False, timeout=120)  # whatever fallocate left
    return filler


@pytest.fixture(scope="module")
def small_disk_server() -> Iterator[tuple[FaultServer, Path]]:
    base = FaultServer.create("diskfull", 1, pagecache=STORE_PAGECACHE)
    server = SmallDiskServer(base.name, base.settings)
    data = server.local.home / "data"
    server.stop()
    data.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["mountpoint", "-q", str(data)], check=False).returncode != 0:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(data)],
                                 capture_output=True, text=True, check=False, timeout=60)
        if mounted.returncode != 0:
            pytest.skip(f"mounting a tmpfs needs privileges this machine does not give: {mounted.stderr.strip()}")
        server.settings.password_file.unlink(missing_ok=True)  # a fresh store: the initial password is set again
        shutil.rmtree(server.local.home / "transactions", ignore_errors=True)  # and no logs of an older store
    try:
        server.start()
        schema = server.cli("schema", "apply")  # as a maintainer's fresh store has it before its first load
        assert schema.returncode == 0, schema.stderr
        yield server, data
    finally:
        server.local.stop(timeout_s=20)
        subprocess.run(["umount", "-l", str(data)], check=False, timeout=60)


def test_a_disk_filling_up_mid_load_leaves_nothing_visible_and_a_rerun_equals_a_clean_load(
    small_disk_server: tuple[FaultServer, Path], codes_file: Path, clean_fingerprint: Fingerprint
) -> None:
    server, data = small_disk_server
    with server.driver() as driver:
        loader = server.popen(*load_args(codes_file))
        try:
            failed_run = run_writing(driver, loader, "the disk filled up")
            filler = _fill(data)
            _, stderr = loader.communicate(timeout=240)
        finally:
            if loader.poll() is None:
                loader.kill()
                loader.communicate()
    assert loader.returncode == 1, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    assert lines[0].startswith("error: Neo4j ") and "nothing of this release is visible" in lines[0], lines[0]

    filler.unlink()
    server.local.stop(timeout_s=20)  # a server whose store failed is killed if it does not stop
    server.start()
    with server.driver() as driver:
        assert release_status(driver, RELEASE) == "staging"
        rerun = server.cli(*load_args(codes_file))
        assert rerun.returncode == 0, rerun.stderr
        after = fingerprint(driver)
        print(f"clean load: {clean_fingerprint}\nafter a full disk mid-load, restart and a rerun: {after}\n{lines[0]}")
        assert after == clean_fingerprint
        recorded = {r["id"]: r for r in runs(driver)}
        assert recorded[failed_run]["status"] == "failed"
        assert release_status(driver, RELEASE) == "visible"
