"""Audit answers: the named queries of ``queries/`` run with typed parameters for the HTTP API.

Auditors can run the same files in cypher-shell; here they run in read transactions with the
service's timeout, and their rows come back as JSON.
"""

from __future__ import annotations

import json
from typing import Any

from codegraph.settings import Settings
from graph_service.errors import NotFound
from graph_service.graph import Graph
from graph_service.services.cypher_guard import run_guarded
from graph_service.services.named_queries import get_named_query

# Row cap for audit endpoints: an audit lists every finding, so it may return more than ad-hoc Cypher.
AUDIT_ROW_CAP = 10_000


def run_audit(graph: Graph, settings: Settings, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    query = get_named_query(name)
    _, rows, _ = run_guarded(graph.driver, graph.database, query.cypher, query.bind(params),
                             timeout_s=max(settings.cypher_timeout_s, 60.0), row_cap=AUDIT_ROW_CAP)
    for row in rows:
        for key in ("findings",):
            if isinstance(row.get(key), str):
                row[key] = json.loads(row[key])
        for version in row.get("versions") or []:
            if isinstance(version.get("findings"), str):
                version["findings"] = json.loads(version["findings"])
    return rows


def encounter_trace(graph: Graph, settings: Settings, encounter_id: str) -> dict[str, Any]:
    rows = run_audit(graph, settings, "encounter_trace", {"encounter": encounter_id})
    if not rows:
        raise NotFound(f"no encounter {encounter_id!r}")
    return rows[0]
