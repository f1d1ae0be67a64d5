"""The coding engine's hottest call, ``GET /v1/codes/{system}/{code}``, answered below the framework.

A code record of a visible release is held in memory as its serialised JSON (``services.codes.get_code_json``),
so what is left of a request is the framework: routing over every route, dependency resolution, the request
and response objects. Profiled under wrk, that was three quarters of the lookup's CPU (the record itself is a
dictionary lookup). This ASGI middleware answers the request when everything it needs is in memory — a key
of any role, a release table built, the code in it — with the very bytes the route would send. Anything else
(no or unknown key, a query it does not know, a body, a table still building, a code not found, any error) is
passed on untouched to the FastAPI app, whose route, errors and OpenAPI description stay the one definition.
``app.state.fast_lane`` counts both, so tests and operators can see which path answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qsl

from pydantic import TypeAdapter
from starlette.types import ASGIApp, Receive, Scope, Send

from graph_service.blocking import memory_only
from graph_service.models.shapes import IsoDate
from graph_service.security import role_of
from graph_service.services.codes import get_code_json

_CODE_PATH = re.compile(r"/v1/codes/([^/]+)/([^/]+)")
_DATE = TypeAdapter(IsoDate)
_QUERY = frozenset({"release", "date"})


@dataclass
class FastLaneStats:
    answered: int = 0
    passed_on: int = 0


class CodeLookupFastLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = getattr(scope.get("app"), "state", None)
        body = self._answer(scope, state) if scope["type"] == "http" and scope["method"] == "GET" else None
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

    @staticmethod
    def _answer(scope: Scope, state: Any) -> bytes | None:
        """The record's bytes, or None when the app should answer (it then decides, and explains, everything)."""
        found = _CODE_PATH.fullmatch(scope["path"])
        graph = getattr(state, "graph", None)
        if found is None or graph is None:
            return None
        key: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                key = value
            elif (name == b"content-length" and value != b"0") or name == b"transfer-encoding":
                return None  # a body: the request contract's checks are the app's
        if key is None or role_of(key.decode("latin-1"), state.api_key_hashes) is None:
            return None
        params = _query(scope.get("query_string", b""))
        if params is None:
            return None
        try:
            on: date | None = _DATE.validate_python(params["date"]) if "date" in params else None
            with memory_only():
                return get_code_json(graph, found[1], found[2], params.get("release"), on)
        except Exception:  # NeedsGraph, a refusal, a bad date or a bug: the app's route answers and explains it
            return None


def _query(raw: bytes) -> dict[str, Any] | None:
    """``release`` and ``date`` given at most once each; None for anything else (the app answers that request)."""
    if not raw:
        return {}
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    params = dict(pairs)
    if len(params) != len(pairs) or not params.keys() <= _QUERY:
        return None
    return params
