"""Liveness and readiness (open endpoints)."""

from __future__ import annotations

import os

from fastapi import APIRouter
from pydantic import BaseModel, Field

from graph_service.deps import GraphDep
from graph_service.errors import Unavailable
from ontology.schema import missing_schema

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    neo4j: str | None = None
    missing_schema: list[str] = []


class Ready(Health):
    worker_pid: int = Field(description="the server process that answered (one per core under `codegraph serve`)")
    reference_tables: dict[str, list[str]] = Field(
        default={}, description="release tables this process holds in memory, and those being built (answered "
        "from the graph meanwhile)")


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Liveness: the process answers. Example: ``GET /healthz``."""
    return Health(status="ok")


@router.get("/readyz", response_model=Ready)
def readyz(graph: GraphDep) -> Ready:
    """Readiness: Neo4j reachable and the schema applied; lists the release tables held in memory.
    Example: ``GET /readyz``."""
    try:
        info = graph.driver.get_server_info()
        missing = missing_schema(graph.driver, graph.database)
    except Exception as exc:  # any failure to reach the graph means "not ready"
        raise Unavailable(f"Neo4j is not reachable: {exc}") from exc
    if missing:
        raise Unavailable("schema not applied (run `codegraph schema apply`)", extra={"missing_schema": missing})
    return Ready(status="ready", neo4j=info.agent, worker_pid=os.getpid(), reference_tables=graph.reference.status())
