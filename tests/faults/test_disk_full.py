"""The disk fills up in the middle of a load (the data dir is a small tmpfs, filled by another file once the load
writes): the load ends with one clear line, nothing of the release is visible, and once space is freed and Neo4j
restarted, the same load gives a clean load's graph.

The transaction log is not preallocated on this server (``db.tx_log.preallocate=false``): preallocated 256 MB log
files would absorb a short load's appends, and a read-only remount is refused while Neo4j holds files open for
writing, so a disk without free space for the next append is the store failure the test causes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from codegraph.runtime.local_server import LocalNeo4j
from tests.faults.conftest import RELEASE, clean_load, load_args
from tests.faults.harness import FaultServer, fingerprint, release_status, run_writing, runs
from tests.faults.harness import wipe as wipe_graph

pytestmark = pytest.mark.faults
TMPFS_SIZE = "200m"


class SmallDiskNeo4j(LocalNeo4j):
    # Set for the restart after the failure: the append cut short by the full disk leaves a torn entry at the end
    # of the transaction log, which Neo4j refuses to recover from unless told to truncate it (its documented way).
    truncate_torn_log = False

    def write_config(self) -> None:
        super().write_config()
        with (self.conf_dir / "neo4j.conf").open("a") as conf:
            conf.write("db.tx_log.preallocate=false\ndb.tx_log.rotation.size=16m\n")
            if self.truncate_torn_log:
                conf.write("internal.dbms.tx_log.fail_on_corrupted_log_files=false\n")


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
    base = FaultServer.create("diskfull", 1)
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
    try:
        server.start()
        yield server, data
    finally:
        server.local.stop(timeout_s=20)
        subprocess.run(["umount", "-l", str(data)], check=False, timeout=60)


def test_a_disk_filling_up_mid_load_leaves_nothing_visible_and_a_rerun_equals_a_clean_load(
    small_disk_server: tuple[FaultServer, Path], codes_file: Path
) -> None:
    server, data = small_disk_server
    clean = clean_load(server, codes_file)
    with server.driver() as driver:
        wipe_graph(driver)
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
    SmallDiskNeo4j.truncate_torn_log = True
    try:
        server.start()
    finally:
        SmallDiskNeo4j.truncate_torn_log = False
    with server.driver() as driver:
        assert release_status(driver, RELEASE) == "staging"
        rerun = server.cli(*load_args(codes_file))
        assert rerun.returncode == 0, rerun.stderr
        after = fingerprint(driver)
        print(f"clean load: {clean}\nafter a full disk mid-load, restart and a rerun: {after}\n{lines[0]}")
        assert after == clean
        recorded = {r["id"]: r for r in runs(driver)}
        assert recorded[failed_run]["status"] == "failed"
        assert release_status(driver, RELEASE) == "visible"
