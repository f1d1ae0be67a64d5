"""Run an auditor's Cypher read-only, time-limited and row-capped — or refuse it, saying why.

A READ transaction alone is not a sandbox (Neo4j still runs LOAD CSV, SHOW SETTINGS, TERMINATE
TRANSACTIONS and some procedures in one), so a query must pass three gates:
1. text: one statement, no admin command keywords at the start;
2. plan: ``EXPLAIN`` must report query type ``r`` and no operator that loads files, calls a
   procedure outside a read-only allowlist, writes, or manages the server;
3. execution: bounded in time, memory, rows and concurrency (``cypher_bounds``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from neo4j import READ_ACCESS, Driver, Query
from neo4j.exceptions import ClientError
from neo4j.graph import Node, Path, Relationship

from graph_service.errors import BadRequest, ServiceError
from graph_service.services.cypher_bounds import CypherTimeout as CypherTimeout  # re-exported for audits
from graph_service.services.cypher_bounds import execute_bounded
from graph_service.services.cypher_shapes import UnboundedQuery, check_plan_shape

# Read-only procedures an auditor may call (schema introspection and search).
ALLOWED_PROCEDURES = frozenset({
    "db.labels", "db.relationshipTypes", "db.propertyKeys", "db.schema.visualization",
    "db.schema.nodeTypeProperties", "db.schema.relTypeProperties", "db.index.fulltext.queryNodes",
    "db.index.fulltext.queryRelationships",
})
# Plan operators that read files, write, manage the server or run procedures.
_FORBIDDEN_OPERATORS = re.compile(
    r"^(LoadCSV|Create|Merge|Delete|DetachDelete|Set|Remove|Foreach|TransactionForeach|TransactionApply|"
    r"Show|Terminate|Alter|Drop|Grant|Deny|Revoke|Rename|Start|Stop|Enable|Disable|Assert|DoNothing|"
    r"EmptyResult.*Schema|.*Index.*Create|.*Constraint)",
)
_ADMIN_START = re.compile(
    r"^\s*(SHOW|TERMINATE|CREATE|DROP|ALTER|GRANT|DENY|REVOKE|START|STOP|ENABLE|DISABLE|RENAME|USE|"
    r"DEALLOCATE|REALLOCATE)\b|^\s*:",
    re.IGNORECASE,
)


class CypherRefused(ServiceError):
    status, title, type = 400, "Query refused", "/problems/cypher-refused"


def _strip_comments_and_strings(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)
    text = re.sub(r"//[^\n]*", " ", text)
    return re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`", "''", text)


def check_text(cypher: str) -> None:
    bare = _strip_comments_and_strings(cypher).strip()
    if not bare:
        raise CypherRefused("the query is empty")
    if ";" in bare.rstrip(";"):
        raise CypherRefused("one statement per request: remove the ';' separated statements")
    if re.search(r"\bLOAD\s+CSV\b", bare, re.IGNORECASE):
        raise CypherRefused("LOAD CSV is not allowed: auditors' queries read the graph only")
    if re.search(r"\bIN\s+(\d+\s+)?(CONCURRENT\s+)?TRANSACTIONS\b", bare, re.IGNORECASE):
        raise CypherRefused("CALL { … } IN TRANSACTIONS is not allowed")
    if _ADMIN_START.match(bare):
        raise CypherRefused(f"administration and write commands are not allowed ({bare.split()[0].upper()})")


def _operators(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("children", []):
        yield from _operators(child)


def _procedure_name(op: dict[str, Any]) -> str:
    args = op.get("args", {})
    signature = str(args.get("Signature") or args.get("Details") or "")
    return signature.split("(", 1)[0].strip()


def check_plan(driver: Driver, database: str, cypher: str, params: dict[str, Any]) -> None:
    try:
        with driver.session(database=database, default_access_mode=READ_ACCESS) as session:
            summary = session.run(Query("EXPLAIN " + cypher), params).consume()
    except ClientError as exc:
        raise BadRequest(f"the query does not compile: {exc.message}") from exc
    if summary.query_type != "r":
        kinds = {"rw": "reads and writes", "w": "writes", "s": "is a schema or administration operation"}
        raise CypherRefused(f"only read-only queries are allowed; this one {kinds.get(summary.query_type, 'writes')}")
    for op in _operators(summary.plan or {}):
        name = str(op.get("operatorType", "")).split("@")[0]
        if name.startswith("ProcedureCall"):
            proc = _procedure_name(op)
            if proc not in ALLOWED_PROCEDURES:
                raise CypherRefused(
                    f"procedure {proc or '(unknown)'} is not allowed; allowed: {sorted(ALLOWED_PROCEDURES)}"
                )
        elif _FORBIDDEN_OPERATORS.match(name):
            raise CypherRefused(f"operation {name} is not allowed in an auditor's query")
    try:
        check_plan_shape(summary.plan)  # unbounded variable-length patterns, huge Cartesian products
    except UnboundedQuery as exc:
        raise CypherRefused(str(exc)) from None


def to_json(value: Any) -> Any:
    """Neo4j values → JSON: nodes and relationships with element ids, labels/type and properties."""
    if isinstance(value, Node):
        return {"id": value.element_id, "labels": sorted(value.labels),
                "properties": {k: to_json(v) for k, v in value.items()}}
    if isinstance(value, Relationship):
        return {"id": value.element_id, "type": value.type,
                "start": value.start_node.element_id if value.start_node else None,
                "end": value.end_node.element_id if value.end_node else None,
                "properties": {k: to_json(v) for k, v in value.items()}}
    if isinstance(value, Path):
        return {"nodes": [to_json(n) for n in value.nodes], "relationships": [to_json(r) for r in value.relationships]}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if hasattr(value, "iso_format"):
        return value.iso_format()
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def run_guarded(
    driver: Driver, database: str, cypher: str, params: dict[str, Any], *, timeout_s: float, row_cap: int,
    slots: int = 16,
) -> tuple[list[str], list[dict[str, Any]], bool]:
    """Columns, rows (at most ``row_cap``) and whether the cap cut the result; bounded as ``cypher_bounds`` says."""
    check_text(cypher)
    cypher = cypher.rstrip().rstrip(";")  # files end statements with ';' for cypher-shell
    columns, records, truncated = execute_bounded(
        driver, database, cypher, params, timeout_s=timeout_s, row_cap=row_cap, slots=slots,
        before=lambda: check_plan(driver, database, cypher, params),
    )
    rows = [{k: to_json(r[k]) for k in columns} for r in records[:row_cap]]
    return columns, rows, truncated
