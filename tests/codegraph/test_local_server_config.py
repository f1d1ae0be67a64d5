"""The local server's configuration keeps its disk use bounded (a dev graph's transaction log once filled the disk)."""

from __future__ import annotations

from pathlib import Path

from codegraph.runtime.local_server import LocalNeo4j
from codegraph.settings import Settings


def written_config(state_dir: Path, **env: str) -> dict[str, str]:
    server = LocalNeo4j(Settings(CODEGRAPH_STATE_DIR=state_dir, **env))
    server.write_config()
    lines = (server.conf_dir / "neo4j.conf").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_the_transaction_log_is_pruned_to_a_size_not_kept_for_days(tmp_path: Path) -> None:
    # Neo4j's default keeps two days of log: every annual load and discard of a day stayed on disk.
    assert written_config(tmp_path)["db.tx_log.rotation.retention_policy"] == "1G size"


def test_the_retention_can_be_set_from_the_environment(tmp_path: Path) -> None:
    conf = written_config(tmp_path, CODEGRAPH_NEO4J_TX_LOG_RETENTION="3 files")
    assert conf["db.tx_log.rotation.retention_policy"] == "3 files"
