"""On a real JDK 25 and Neo4j: the first server records the AOT cache and its stop keeps it, the next start maps
it and answers; the machine's own cache is not touched (a private jar cache and AOT directory)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from codegraph.runtime import java_runtime, local_server
from codegraph.runtime.java_runtime import find_java, recorder_lock
from codegraph.runtime.local_server import LocalNeo4j, jar_cache_dir
from codegraph.settings import NEO4J_VERSION, Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def private_jar_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    machine = jar_cache_dir()
    LocalNeo4j(Settings(CODEGRAPH_STATE_DIR=tmp_path / "provision")).provision()  # fills the machine's if empty
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    mine = jar_cache_dir()
    mine.mkdir(parents=True)
    for jar in machine.glob("*.jar"):
        os.link(jar, mine / jar.name)
    (mine / ".version").write_text(NEO4J_VERSION + "\n")
    return mine


def test_the_aot_cache_is_recorded_once_kept_at_stop_and_mapped_by_the_next_start(
        private_jar_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not find_java().keeps_aot_cache:
        pytest.skip("no JDK 25 or newer on this machine: the server runs without an AOT cache")
    monkeypatch.setattr(java_runtime, "AOT_MIN_RECORDING_S", 0.0)  # keep a recording however briefly it ran
    settings = Settings(CODEGRAPH_STATE_DIR=tmp_path / "state", CODEGRAPH_BOLT_PORT=_free_port(),
                        CODEGRAPH_NEO4J_HEAP="512m", CODEGRAPH_NEO4J_PAGECACHE="128m", NEO4J_URI=None)
    server = LocalNeo4j(settings)
    try:
        first = server.start()
        assert first.aot == "recording" and first.java == os.path.realpath(find_java().java)
        recording, cache_file = (Path(p) for p in server.aot.marker.read_text().split())
        assert cache_file.parent == private_jar_cache.parent and not cache_file.exists()
        assert recorder_lock(cache_file).read_text().strip() == str(first.pid)
        # A second server meanwhile runs without: one recording at a time.
        other = LocalNeo4j(Settings(CODEGRAPH_STATE_DIR=tmp_path / "other", NEO4J_URI=None))
        other.provision()
        assert other._server_classpath(find_java(), server.jvm_args())[1] == []
    finally:
        server.stop()
    assert cache_file.stat().st_size > 1_000_000
    assert not recording.exists() and not recorder_lock(cache_file).exists() and not server.aot.marker.exists()

    try:
        second = server.start()
        assert second.aot == "mapped" and second.version is not None
        with local_server.GraphDatabase.driver(settings.bolt_uri, auth=(settings.neo4j_user,
                                                                        settings.resolved_password())) as driver:
            assert driver.execute_query("RETURN 1 AS one").records[0]["one"] == 1
        assert "Unable to use AOT cache" not in server.console_log.read_text(errors="replace")
    finally:
        server.stop()

