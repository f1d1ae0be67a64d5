"""The server's jars come from Maven once per machine: a new state dir (every fresh demo, every test run's own
server) links them from the jar cache instead of running Maven again (3.5-7 s of a demo's start)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codegraph.runtime import local_server
from codegraph.runtime.local_server import LocalNeo4j, LocalNeo4jError, jar_cache_dir
from codegraph.settings import NEO4J_VERSION, Settings

JARS = ("neo4j-kernel-5.26.0.jar", "neo4j-bolt-5.26.0.jar")


@pytest.fixture
def no_maven(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A machine cache under tmp_path, and Maven nowhere on PATH (Java stays: the start needs it)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    which = shutil.which
    monkeypatch.setattr(local_server.shutil, "which", lambda name: None if name == "mvn" else which(name))
    return jar_cache_dir()


def test_a_new_state_dir_takes_the_jars_from_the_machine_cache_without_maven(no_maven: Path, tmp_path: Path) -> None:
    no_maven.mkdir(parents=True)
    for jar in JARS:
        (no_maven / jar).write_bytes(b"PK jar " + jar.encode())
    (no_maven / ".version").write_text(NEO4J_VERSION + "\n")
    for name in ("state-a", "state-b"):
        server = LocalNeo4j(Settings(CODEGRAPH_STATE_DIR=tmp_path / name))
        server.provision()
        assert sorted(p.name for p in server.lib_dir.glob("*.jar")) == sorted(JARS)
        assert (server.lib_dir / JARS[0]).read_bytes() == (no_maven / JARS[0]).read_bytes()
        assert server.is_provisioned()


def test_an_incomplete_cache_is_not_used(no_maven: Path, tmp_path: Path) -> None:
    # Jars without the version marker: a fill that stopped half-way, or another version's. Maven is needed,
    # and its absence is said plainly.
    no_maven.mkdir(parents=True)
    (no_maven / JARS[0]).write_bytes(b"PK")
    server = LocalNeo4j(Settings(CODEGRAPH_STATE_DIR=tmp_path / "state"))
    with pytest.raises(LocalNeo4jError, match="Maven"):
        server.provision()
    assert not server.is_provisioned()
