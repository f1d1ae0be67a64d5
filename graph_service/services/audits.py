"""Audit answers: the named queries of ``queries/`` run with typed parameters for the HTTP API.

Auditors can run the same files in cypher-shell; here they run in read transactions with the
service's timeout, and their rows come back as JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from neo4j import READ_ACCESS, ManagedTransaction, unit_of_work
from neo4j.exceptions import ClientError

from codegraph.settings import Settings
from graph_service.errors import BadRequest, NotFound
from graph_service.graph import Graph
from graph_service.models.encounters import DrgShiftPage, DrgShiftRow
from graph_service.services.cypher_guard import CypherTimeout, run_guarded, to_json
from graph_service.services.named_queries import get_named_query
from graph_service.services.query_pages import decode_cursor, encode_cursor, qualify_release_params

# Row cap for audit endpoints: an audit lists every finding, so it may return more than ad-hoc Cypher.
AUDIT_ROW_CAP = 10_000
# DRG-shift pages: bounded so that a page's payload and its added/removed evidence stay small.
SHIFT_PAGE_DEFAULT = 100
SHIFT_PAGE_MAX = 1000


def run_audit(graph: Graph, settings: Settings, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return run_audit_page(graph, settings, name, params, limit=AUDIT_ROW_CAP)[1]


def run_audit_page(graph: Graph, settings: Settings, name: str, params: dict[str, Any], *, limit: int,
                   cursor: str | None = None) -> tuple[list[str], list[dict[str, Any]], str | None]:
    """Columns, one page of rows from the cursor on, and the next page's cursor (None: this was the last)."""
    query = get_named_query(name)
    bound = qualify_release_params(graph, query, query.bind(params))
    offset = decode_cursor(cursor, name, bound)
    columns, rows, more = run_guarded(graph.driver, graph.database, query.cypher, bound,
                                      timeout_s=max(settings.cypher_timeout_s, 60.0), row_cap=offset + limit)
    rows = rows[offset:]
    _decode_findings(rows)
    return columns, rows, encode_cursor(name, bound, offset + limit) if more else None


def _decode_findings(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        for key in ("findings",):
            if isinstance(row.get(key), str):
                row[key] = json.loads(row[key])
        for version in row.get("versions") or []:
            if isinstance(version.get("findings"), str):
                version["findings"] = json.loads(version["findings"])


def run_named_read(graph: Graph, settings: Settings, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """A named query of the repository in a managed read transaction with the audit timeout, without the EXPLAIN
    gate that ad-hoc Cypher passes: the file is ours, only its typed parameters come from the request (one round
    trip instead of two)."""
    query = get_named_query(name)
    cypher = query.cypher.rstrip().rstrip(";")  # files end statements with ';' for cypher-shell
    bound = query.bind(params)
    timeout_s = max(settings.cypher_timeout_s, 60.0)

    @unit_of_work(timeout=timeout_s, metadata={"app": "codegraph-auditor"})
    def read(tx: ManagedTransaction) -> list[dict[str, Any]]:
        return [{k: to_json(v) for k, v in record.items()} for record in tx.run(cypher, bound)]

    try:
        with graph.driver.session(database=graph.database, default_access_mode=READ_ACCESS) as session:
            return session.execute_read(read)
    except ClientError as exc:
        if "TransactionTimedOut" in (exc.code or "") or "Terminated" in (exc.code or ""):
            raise CypherTimeout(f"stopped after the {timeout_s:g}s limit") from exc
        raise


def encounter_trace(graph: Graph, settings: Settings, encounter_id: str) -> dict[str, Any]:
    rows = run_audit(graph, settings, "encounter_trace", {"encounter": encounter_id})
    if not rows:
        raise NotFound(f"no encounter {encounter_id!r}")
    return rows[0]


def encode_shift_cursor(shift: float, assignment: str) -> str:
    """The position after a row: its absolute payment shift and assignment id (opaque to callers)."""
    raw = json.dumps([shift, assignment], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_shift_cursor(cursor: str) -> tuple[float, str]:
    try:
        shift, assignment = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(shift, bool) or not isinstance(shift, int | float) or not math.isfinite(shift) \
                or not isinstance(assignment, str):
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error):
        raise NotFound(f"cursor {cursor!r} is not one this endpoint returned") from None
    return float(shift), assignment


def drg_shifts_page(graph: Graph, settings: Settings, *, min_delta: float = 5000.0, payer: str | None = None,
                    coder: str | None = None, from_date: str | None = None, to_date: str | None = None,
                    limit: int = SHIFT_PAGE_DEFAULT, cursor: str | None = None) -> DrgShiftPage:
    """One page of the revisions whose expected payment moved by more than ``min_delta``, largest first.

    The named query seeks the indexed shift stored on each revision, from the cursor on, and reads the added and
    removed codes with their evidence for this page's rows only.
    """
    if not 1 <= limit <= SHIFT_PAGE_MAX:
        raise BadRequest(f"limit must be between 1 and {SHIFT_PAGE_MAX}, got {limit}")
    after_shift, after_assignment = decode_shift_cursor(cursor) if cursor else (None, None)
    rows = run_named_read(graph, settings, "drg_shifts", {
        "min_delta": float(min_delta), "payer": payer, "coder": coder, "from_date": from_date, "to_date": to_date,
        "page_size": limit, "after_shift": after_shift, "after_assignment": after_assignment})
    last = rows[-1] if len(rows) == limit else None
    return DrgShiftPage(rows=[DrgShiftRow.model_validate(r) for r in rows], limit=limit,
                        next=encode_shift_cursor(last["shift"], last["after_assignment"]) if last else None)
