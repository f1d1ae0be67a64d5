"""Paging, truncation and CSV for the auditors' answers (named queries and audit endpoints).

A named query orders its rows itself, so a page is the rows from an offset: the query is run with a row cap of
offset + page size and the page is the tail. The cursor is opaque: the offset and a digest of the query and its
parameters, so a cursor cannot be replayed against another question. ``truncated`` / ``next`` say there is more.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
from typing import Annotated, Any

from fastapi import Query, Request, Response

from graph_service.errors import NotFound, Unprocessable
from graph_service.graph import Graph
from graph_service.services.named_queries import NamedQuery

CSV = "text/csv"
# A cursor is base64url text (no padding), as the schema publishes it. One of that shape that this endpoint did not
# return for this question names no page: 404, which the schema documents for every operation.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
Cursor = Annotated[str | None, Query(max_length=400, pattern=CURSOR_PATTERN,
                                     description="the previous page's `next`; 404 for a cursor this endpoint did "
                                                 "not return for these parameters")]


def _digest(name: str, params: dict[str, Any]) -> str:
    text = json.dumps([name, params], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_cursor(name: str, params: dict[str, Any], offset: int) -> str:
    raw = json.dumps({"o": offset, "q": _digest(name, params)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, name: str, params: dict[str, Any]) -> int:
    """The offset a cursor stands for; 404 (no such page) for a cursor of another query, other parameters, or none
    of ours."""
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset, digest = data["o"], data["q"]
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise ValueError(cursor)
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise NotFound(f"cursor {cursor!r} is not one this endpoint returned") from None
    if digest != _digest(name, params):
        raise NotFound("the cursor belongs to another query or other parameters: repeat the first request's "
                         "parameters with it")
    return offset


def qualify_release_params(graph: Graph, query: NamedQuery, params: dict[str, Any]) -> dict[str, Any]:
    """Release parameters (``…release``) as the code endpoints take them: "FY2025" names the visible release of
    that version (of the ``system`` parameter's system when the query has one, else the one system that has it)."""
    out = dict(params)
    releases = None
    for p in query.params:
        value = out.get(p.name)
        if not p.name.endswith("release") or not isinstance(value, str) or "@" in value:
            continue
        releases = releases if releases is not None else graph.reference.catalog().of()
        matching = [r for r in releases if r.version.lower() == value.lower()]
        wanted = out.get("system")
        if isinstance(wanted, str):
            matching = [r for r in matching if r.system == wanted.lower()]
        systems = sorted({r.system for r in matching})
        if len(systems) > 1 and "icd10cm" in systems:
            matching = [r for r in matching if r.system == "icd10cm"]  # the code endpoints' default system
        elif len(systems) > 1:
            raise Unprocessable(f"parameter {p.name}: {value!r} names a release of {systems}; give the id, "
                                f"e.g. {matching[0].id!r}")
        if not matching:
            raise NotFound(f"parameter {p.name}: no visible release {value!r}; visible: "
                                f"{sorted(r.id for r in releases)}")
        out[p.name] = matching[0].id
    return out


def wants_csv(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip() == CSV for part in accept.split(","))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def csv_response(columns: list[str], rows: list[dict[str, Any]], headers: dict[str, str] | None = None) -> Response:
    """RFC 4180 CSV with a header row; nested values (lists, maps) as compact JSON in their cell."""
    if not columns and rows:
        columns = list(rows[0])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


def page_headers(next_cursor: str | None, request: Request) -> dict[str, str]:
    """``X-Truncated`` always; ``X-Next-Cursor`` and an RFC 8288 ``Link: rel="next"`` when there is more."""
    if next_cursor is None:
        return {"X-Truncated": "false"}
    url = request.url.include_query_params(cursor=next_cursor)
    return {"X-Truncated": "true", "X-Next-Cursor": next_cursor, "Link": f'<{url}>; rel="next"'}
