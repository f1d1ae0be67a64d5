"""The published OpenAPI schema says which problem+json responses each operation can give.

The error handlers (``errors.py``) answer the same way for every route, so their responses are documented here,
once, rather than on each route: 401/403 wherever an API key is required, 404, 422 where the request has
parameters or a body, 400 for requests the service refuses on their meaning, 413 where there is a body, 408 for
the auditors' queries, 503 (with ``Retry-After``) wherever the graph is read. A route that declares one of these
itself (``responses=``) keeps its own description. FastAPI's default 422 (``application/json``,
``HTTPValidationError``) is replaced: the service answers ``application/problem+json``.

The FHIR endpoints answer their own errors as OperationOutcome resources (``application/fhir+json``) and declare
those; the statuses the shared handlers add there (401/403 from the key check, 422, 503) may come either way.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

PROBLEM_MEDIA = "application/problem+json"
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "problem kind, e.g. /problems/not-found"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "what was wrong and how to fix it"},
        "errors": {"type": "array", "items": {"type": "object"}, "description": "each invalid field (422)"},
    },
    "additionalProperties": True,
}
DESCRIPTIONS = {
    400: "Bad request: understood but refused on its meaning (e.g. a Cypher query that writes)",
    401: "Missing or unknown API key (X-API-Key)",
    403: "The API key's role may not use this endpoint",
    404: "Not found: unknown code, system, release, encounter, named query or page cursor",
    408: "The query ran past its time limit and was stopped",
    413: "The request is larger than the service accepts",
    422: "Invalid request: each invalid field is listed in `errors`",
    503: "Neo4j is unreachable or restarting; retry after the Retry-After seconds",
}
_OPEN = ("/healthz", "/readyz", "/docs", "/redoc", "/openapi.json")
_TIMED = ("/v1/cypher", "/v1/queries/", "/v1/audit/", "/v1/encounters/{encounter_id}/trace")
_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


def problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS.get(status, "Problem"),
        "content": {PROBLEM_MEDIA: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status == 503:
        response["headers"] = {"Retry-After": {"description": "seconds to wait before retrying",
                                               "schema": {"type": "string"}}}
    return response


def problem_statuses(path: str, operation: dict[str, Any]) -> set[int]:
    """The problem statuses the shared handlers can answer for this operation."""
    if path == "/healthz":
        return set()
    if path in _OPEN:
        return {503} if path == "/readyz" else set()
    statuses = {400, 401, 403, 404, 503}
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.add(422)
    if operation.get("requestBody"):
        statuses.add(413)
    if path.startswith(_TIMED):
        statuses.add(408)
    return statuses


def fhir_error_response(status: int) -> dict[str, Any]:
    return {"description": DESCRIPTIONS.get(status, "OperationOutcome or problem details"),
            "content": {"application/fhir+json": {},
                        PROBLEM_MEDIA: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def add_problem_responses(schema: dict[str, Any]) -> dict[str, Any]:
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    schema["components"]["schemas"].pop("HTTPValidationError", None)
    schema["components"]["schemas"].pop("ValidationError", None)
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if path.startswith("/fhir") and method in _METHODS:
                for status in sorted(problem_statuses(path, operation) - {400, 404}):
                    operation.setdefault("responses", {}).setdefault(str(status), fhir_error_response(status))
                continue
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code, response in responses.items():  # errors the route declared itself: problem+json too
                if code[:1] in "45" and isinstance(response, dict):
                    content = response.get("content") or {}
                    if "application/json" in content or not content:
                        response["content"] = {PROBLEM_MEDIA: {"schema": {"$ref": "#/components/schemas/Problem"}}}
            for status in sorted(problem_statuses(path, operation)):
                responses.setdefault(str(status), problem_response(status))
    return schema


def document_problems(app: FastAPI) -> None:
    """Wrap ``app.openapi`` so the generated schema carries the problem responses (built once, cached)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_problem_responses(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
