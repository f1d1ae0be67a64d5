"""The coding engine's hot calls, answered below the framework when the release data in memory suffices.

Two kinds of call:
- ``GET /v1/codes/{system}/{code}``: a code record of a visible release is held as its serialised JSON
  (``services.codes.get_code_json``), so the answer is a dictionary lookup;
- the JSON ``POST``s in ``MEMORY_ROUTES`` (MS-DRG grouping, what-if and opportunities, claim edits, code
  validation, assignment evaluation): their services run from the release tables, as the routes run them
  (``blocking.answer``).

Profiled under wrk, the framework was three quarters of the lookup's CPU and two thirds of a what-if's outside
the grouper: routing over every route, dependency resolution (11.6 % of a what-if), the body parsed to Python
objects and validated again, the request and response objects. This ASGI middleware answers a request when
everything it needs is in memory — a key of any role, no query string, a JSON body within the size limit that
validates, a release table built — with the very bytes the route would send (the body validated straight from
JSON by pydantic-core, the response dumped once). Anything else (no or unknown key, a query, a body that does
not validate, a table still building, a refusal, any error) is passed on untouched, the body replayed, to the
FastAPI app, whose routes, errors and OpenAPI description stay the one definition; a passed-on call runs its
service again there. ``app.state.fast_lane`` counts both, so tests and operators can see which path answered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel, TypeAdapter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from codegraph.settings import Settings
from graph_service.blocking import memory_only
from graph_service.graph import Graph
from graph_service.models.claim_edits import ClaimEditsIn
from graph_service.models.drg import DrgClaimIn, OpportunitiesIn, WhatIfIn
from graph_service.models.evaluation import EvaluateIn
from graph_service.models.shapes import IsoDate
from graph_service.models.validation import ValidateCodesIn
from graph_service.security import role_of
from graph_service.services import drg
from graph_service.services.claim_edits import check_claim
from graph_service.services.codes import get_code_json
from graph_service.services.evaluation import evaluate
from graph_service.services.validation import validate_codes

_CODE_PATH = re.compile(r"/v1/codes/([^/]+)/([^/]+)")
_DATE = TypeAdapter(IsoDate)
_QUERY = frozenset({"release", "date"})


@dataclass(frozen=True)
class MemoryRoute:
    """A POST route open to every role, whose body is ``body`` and whose answer is ``run(graph, settings, body)``."""

    body: type[BaseModel]
    run: Callable[[Graph, Settings, Any], BaseModel]


# Each entry mirrors its route in graph_service/routes (same model, same service, the Reader role);
# tests/graph_service/test_fast_lane.py checks both answer with the same bytes.
MEMORY_ROUTES: dict[str, MemoryRoute] = {
    "/v1/drg/group": MemoryRoute(DrgClaimIn, drg.group_claim),
    "/v1/drg/what-if": MemoryRoute(WhatIfIn, drg.what_if),
    "/v1/drg/opportunities": MemoryRoute(OpportunitiesIn, drg.opportunities),
    "/v1/edits/claim": MemoryRoute(ClaimEditsIn, lambda graph, _settings, body: check_claim(graph, body)),
    "/v1/validate/codes": MemoryRoute(ValidateCodesIn, lambda graph, _settings, body: validate_codes(graph, body)),
    "/v1/assignments/evaluate": MemoryRoute(EvaluateIn, evaluate),
}


@dataclass
class FastLaneStats:
    answered: int = 0
    passed_on: int = 0


class FastLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan, websocket
            await self.app(scope, receive, send)
            return
        state = getattr(scope.get("app"), "state", None)
        body: bytes | None = None
        method, path = scope["method"], scope["path"]
        # The key is checked only on the lane's own paths: every other request pays nothing here.
        if method == "GET" and (code := _CODE_PATH.fullmatch(path)) is not None and _caller_known(scope, state):
            body = _code_lookup(scope, state, code)
        elif method == "POST" and (route := MEMORY_ROUTES.get(path)) is not None and _caller_known(scope, state):
            request = await _json_body(scope, receive, state)
            if request is not None:
                body = _memory_answer(route, request, state)
                receive = _replay(request, receive)
        stats: FastLaneStats | None = getattr(state, "fast_lane", None)
        if body is None:
            if stats is not None:
                stats.passed_on += 1
            await self.app(scope, receive, send)
            return
        if stats is not None:
            stats.answered += 1
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


def _caller_known(scope: Scope, state: Any) -> bool:
    """A key of any role (every lane route admits all roles); the app refuses, and explains, the rest."""
    if getattr(state, "graph", None) is None:
        return False
    key = next((value for name, value in scope["headers"] if name == b"x-api-key"), None)
    return key is not None and role_of(key.decode("latin-1"), state.api_key_hashes) is not None


def _code_lookup(scope: Scope, state: Any, found: re.Match[str]) -> bytes | None:
    """The record's bytes, or None when the app should answer (it then decides, and explains, everything)."""
    for name, value in scope["headers"]:
        if (name == b"content-length" and value != b"0") or name == b"transfer-encoding":
            return None  # a body: the request contract's checks are the app's
    params = _query(scope.get("query_string", b""))
    if params is None:
        return None
    try:
        on: date | None = _DATE.validate_python(params["date"]) if "date" in params else None
        with memory_only():
            return get_code_json(state.graph, found[1], found[2], params.get("release"), on)
    except Exception:  # NeedsGraph, a refusal, a bad date or a bug: the app's route answers and explains it
        return None


async def _json_body(scope: Scope, receive: Receive, state: Any) -> bytes | None:
    """The whole body of a JSON request with no query string and a declared length within the limit, else None
    before anything is read (the app's request contract refuses an oversized or streamed body)."""
    if scope.get("query_string"):
        return None
    headers = dict(scope["headers"])
    declared, kind = headers.get(b"content-length"), headers.get(b"content-type", b"")
    limit = state.settings.max_request_bytes
    if declared is None or not declared.isdigit() or int(declared) > limit or b"transfer-encoding" in headers:
        return None
    if kind.split(b";")[0].strip().lower() != b"application/json":
        return None
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: nothing to answer
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _memory_answer(route: MemoryRoute, request: bytes, state: Any) -> bytes | None:
    try:
        body = route.body.model_validate_json(request)
        with memory_only():
            return route.run(state.graph, state.settings, body).model_dump_json(by_alias=True).encode()
    except Exception:  # a refusal, NeedsGraph or a bug: the app's route runs it again and answers
        return None


def _replay(request: bytes, receive: Receive) -> Receive:
    """``receive`` for the app after the lane has read the body: the body once, then the client's own messages."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": request, "more_body": False}
        return await receive()

    return replayed


def _query(raw: bytes) -> dict[str, Any] | None:
    """``release`` and ``date`` given at most once each; None for anything else (the app answers that request)."""
    if not raw:
        return {}
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    params = dict(pairs)
    if len(params) != len(pairs) or not params.keys() <= _QUERY:
        return None
    return params
