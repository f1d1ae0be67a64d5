"""Read-only Cypher for auditors: ad-hoc (guarded) and the named queries of ``queries/``."""

from __future__ import annotations

from fastapi import APIRouter

from graph_service.deps import Auditor, GraphDep, SettingsDep
from graph_service.models.cypher import CypherIn, CypherOut, NamedQueryIn, NamedQueryOut, QueryParamOut
from graph_service.services.cypher_guard import run_guarded
from graph_service.services.named_queries import get_named_query, named_queries

router = APIRouter(prefix="/v1", tags=["audit"])


def _run(graph: GraphDep, settings: SettingsDep, query: str, params: dict) -> CypherOut:  # type: ignore[type-arg]
    columns, rows, truncated = run_guarded(
        graph.driver, graph.database, query, params,
        timeout_s=settings.cypher_timeout_s, row_cap=settings.cypher_row_cap, slots=settings.cypher_slots,
    )
    return CypherOut(columns=columns, rows=rows, row_count=len(rows), truncated=truncated,
                     row_cap=settings.cypher_row_cap, timeout_s=settings.cypher_timeout_s)


@router.post("/cypher", response_model=CypherOut)
def post_cypher(body: CypherIn, graph: GraphDep, settings: SettingsDep, _: Auditor) -> CypherOut:
    """A parameterised read-only query; writes, schema and admin commands, file loads and
    non-allowlisted procedures are refused with the reason; nothing is ever committed."""
    return _run(graph, settings, body.query, body.params)


@router.get("/queries", response_model=list[NamedQueryOut])
def list_queries(_: Auditor) -> list[NamedQueryOut]:
    return [
        NamedQueryOut(name=q.name, description=q.description, file=q.file, example=q.example,
                      params=[QueryParamOut(**p.__dict__) for p in q.params])
        for q in named_queries().values()
    ]


@router.post("/queries/{name}", response_model=CypherOut)
def run_named_query(name: str, body: NamedQueryIn, graph: GraphDep, settings: SettingsDep, _: Auditor) -> CypherOut:
    query = get_named_query(name)
    return _run(graph, settings, query.cypher, query.bind(body.params))
