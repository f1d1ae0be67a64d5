"""Which Neo4j the tests use: NEO4J_URI, else a testcontainers Neo4j, else the project's local one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from codegraph.runtime.local_server import LocalNeo4j
from codegraph.settings import Settings

REPO = Path(__file__).resolve().parent.parent
TEST_IMAGE = "neo4j:5.26-community"


@dataclass(frozen=True)
class TestNeo4j:
    settings: Settings
    source: str  # env | testcontainers | local


def docker_engine_answers() -> bool:
    """True only if a Docker engine answers a ping (the client binary alone does not count)."""
    try:
        import docker  # shipped with testcontainers

        client = docker.from_env(timeout=3)
        return bool(client.ping())
    except Exception:
        return False


@contextmanager
def provide_neo4j() -> Iterator[TestNeo4j]:
    if os.environ.get("NEO4J_URI"):
        yield TestNeo4j(Settings(), "env")
        return
    if docker_engine_answers():
        from testcontainers.neo4j import Neo4jContainer

        with Neo4jContainer(TEST_IMAGE) as container:
            settings = Settings(
                NEO4J_URI=container.get_connection_url(), NEO4J_USER="neo4j",
                NEO4J_PASSWORD=container.password,
            )
            yield TestNeo4j(settings, "testcontainers")
        return
    state = Path(os.environ.get("CODEGRAPH_TEST_STATE_DIR", REPO / "state" / "test-neo4j"))
    settings = Settings(
        CODEGRAPH_STATE_DIR=state,
        CODEGRAPH_BOLT_PORT=int(os.environ.get("CODEGRAPH_TEST_BOLT_PORT", "7698")),
        CODEGRAPH_NEO4J_HEAP=os.environ.get("CODEGRAPH_TEST_NEO4J_HEAP", "1g"),
        CODEGRAPH_NEO4J_PAGECACHE=os.environ.get("CODEGRAPH_TEST_NEO4J_PAGECACHE", "1g"),
    )
    server = LocalNeo4j(settings)
    already_running = server.status().running
    server.start()
    try:
        yield TestNeo4j(settings, "local")
    finally:
        if not already_running:
            server.stop()
