"""`codegraph serve` in its own process against the test session's Neo4j, for tests that need real HTTP (a FHIR
client library, a second process that sees promotions)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.served import Server, free_port, real_command, served
from codegraph.settings import Settings
from graph_service.security import Role, new_key


def server_env(settings: Settings) -> dict[str, str]:
    """The session's Neo4j for a `codegraph serve` subprocess."""
    if settings.neo4j_uri:
        env = {"NEO4J_URI": settings.neo4j_uri, "NEO4J_USER": settings.neo4j_user,
               "NEO4J_DATABASE": settings.neo4j_database}
        if settings.neo4j_password is not None:
            env["NEO4J_PASSWORD"] = settings.neo4j_password.get_secret_value()
        return env
    return {"CODEGRAPH_STATE_DIR": str(settings.state_dir), "CODEGRAPH_BOLT_PORT": str(settings.local_bolt_port)}


@contextmanager
def served_api(settings: Settings, work_dir: Path, *, env: dict[str, str] | None = None,
               timeout_s: float = 300) -> Iterator[tuple[Server, dict[str, str]]]:
    """One worker serving the session's graph, and the headers of an engine key it accepts."""
    key, line = new_key(Role.engine)
    port = free_port()
    with served("api", real_command(port, 1), port, work_dir, workers=1, ready_path="/healthz", timeout_s=timeout_s,
                env={**server_env(settings), "CODEGRAPH_API_KEYS": line, **(env or {})}) as server:
        yield server, {"X-API-Key": key}
