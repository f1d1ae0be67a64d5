"""One exception hierarchy for the service and the problem+json handlers that render it."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from neo4j.exceptions import DatabaseUnavailable, ServiceUnavailable, SessionExpired, TransientError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"


class ServiceError(Exception):
    """An error the client should see as problem+json with this status."""

    status = 500
    title = "Internal error"
    type = "about:blank"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}


class BadRequest(ServiceError):
    status, title, type = 400, "Bad request", "/problems/bad-request"


class Unauthorized(ServiceError):
    status, title, type = 401, "Missing or unknown API key", "/problems/unauthorized"


class Forbidden(ServiceError):
    status, title, type = 403, "Role not allowed", "/problems/forbidden"


class NotFound(ServiceError):
    status, title, type = 404, "Not found", "/problems/not-found"


class Unprocessable(ServiceError):
    status, title, type = 422, "Invalid request", "/problems/invalid-request"


class Unavailable(ServiceError):
    status, title, type = 503, "Graph database unavailable", "/problems/unavailable"


def problem(status: int, title: str, detail: str, type_: str = "about:blank", *,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    body = {"type": type_, "title": title, "status": status, "detail": detail, **extra}
    headers = {**(headers or {}), **({"Retry-After": "5"} if status == 503 else {})}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers or None)


def _allowed_methods(request: Request) -> list[str]:
    """Every method the published schema lists for this path. Starlette's own Allow names only the first matching
    route's methods, and a path may be served by one route per method (the FHIR operations' GET and POST)."""
    patterns = getattr(request.app.state, "allow_patterns", None)
    if patterns is None:
        patterns = []
        for template, item in request.app.openapi().get("paths", {}).items():
            regex = re.sub(r"\\\{([^}:]+)(:path)?\\\}", lambda m: ".+" if m.group(2) else "[^/]+", re.escape(template))
            patterns.append((re.compile(regex + "$"), sorted(m.upper() for m in item if m.isalpha())))
        request.app.state.allow_patterns = patterns
    path = request.url.path
    return sorted({m for regex, methods in patterns if regex.match(path) for m in methods})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return problem(exc.status, exc.title, exc.detail, exc.type, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        broken = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
        if broken is not None:  # say where the JSON stopped parsing (graph_service/request_contract.py)
            from graph_service.request_contract import json_error_detail

            detail, where = json_error_detail(exc.body, broken["loc"][-1], (broken.get("ctx") or {}).get("error", ""))
            return problem(422, "Malformed JSON", detail, "/problems/invalid-request", errors=errors, **where)
        return problem(422, "Invalid request", detail, "/problems/invalid-request", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Keep the exception's headers: a 405 carries Allow (RFC 9110), a 401 WWW-Authenticate.
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return problem(exc.status_code, str(exc.detail), str(exc.detail), headers=headers)

    # Neo4j gone, restarting (database not yet open) or shedding load: retry later, never a 500.
    @app.exception_handler(ServiceUnavailable)
    @app.exception_handler(SessionExpired)
    @app.exception_handler(DatabaseUnavailable)
    @app.exception_handler(TransientError)
    async def _neo4j_down(_: Request, exc: Exception) -> JSONResponse:
        return problem(503, "Graph database unavailable", f"Neo4j is not reachable: {exc}", "/problems/unavailable")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "Internal error", "an unexpected error occurred; it has been logged")

    from graph_service.openapi_problems import document_problems  # the schema says what these handlers answer

    document_problems(app)
