"""Read-only Cypher for auditors: ad-hoc (guarded) and the named queries of ``queries/``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from graph_service.deps import Auditor, GraphDep, SettingsDep
from graph_service.models.cypher import CypherIn, CypherOut, NamedQueryIn, NamedQueryOut, QueryParamOut
from graph_service.services.cypher_guard import run_guarded
from graph_service.services.named_queries import get_named_query, named_queries
from graph_service.services.query_pages import (
    Cursor,
    csv_response,
    decode_cursor,
    encode_cursor,
    page_headers,
    qualify_release_params,
    wants_csv,
)

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
    """The named auditor queries of ``queries/`` with their parameters and an example.
    Example: ``GET /v1/queries``."""
    return [
        NamedQueryOut(name=q.name, description=q.description, file=q.file, example=q.example,
                      params=[QueryParamOut(**p.__dict__) for p in q.params])
        for q in named_queries().values()
    ]


@router.post("/queries/{name}", response_model=CypherOut)
def run_named_query(name: str, body: NamedQueryIn, graph: GraphDep, settings: SettingsDep, _: Auditor,
                    request: Request, limit: Annotated[int | None, Query(ge=1, description="rows per page; default "
                                                                         "and most: the row cap")] = None,
                    cursor: Cursor = None) -> Response:
    """Run one named query with typed parameters (release names as the code endpoints take them: FY2025 or
    icd10cm@FY2025), a page at a time: ``truncated`` and ``next`` say more rows follow, ``cursor=next`` gets them;
    ``Accept: text/csv`` answers CSV (paging in the ``X-Next-Cursor`` header).
    Example: ``POST /v1/queries/code_history`` with ``{"params": {"code": "E11.9"}}``."""
    query = get_named_query(name)
    params = qualify_release_params(graph, query, query.bind(body.params))
    page = min(limit or settings.cypher_row_cap, settings.cypher_row_cap)
    offset = decode_cursor(cursor, name, params)
    columns, rows, more = run_guarded(
        graph.driver, graph.database, query.cypher, params,
        timeout_s=settings.cypher_timeout_s, row_cap=offset + page, slots=settings.cypher_slots,
    )
    next_cursor = encode_cursor(name, params, offset + page) if more else None
    if wants_csv(request):
        return csv_response(columns, rows[offset:], page_headers(next_cursor, request))
    out = CypherOut(columns=columns, rows=rows[offset:], row_count=len(rows) - offset, truncated=more,
                    row_cap=page, timeout_s=settings.cypher_timeout_s, next=next_cursor)
    return Response(out.model_dump_json(), media_type="application/json", headers=page_headers(next_cursor, request))
