"""Errors as ``OperationOutcome`` with the FHIR issue code and HTTP status that fit them.

Everything the ``/v1`` services raise (``ServiceError``), FastAPI's request validation, the API-key checks
and an unreachable Neo4j are turned into an OperationOutcome by ``FhirRoute``, so a FHIR client never sees
problem+json from ``/fhir``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fhir.resources.R4B.operationoutcome import OperationOutcome
from neo4j.exceptions import ServiceUnavailable, SessionExpired
from starlette.exceptions import HTTPException

from graph_service.errors import ServiceError

log = logging.getLogger(__name__)
FHIR_JSON = "application/fhir+json"

# problem+json status → the OperationOutcome issue code (http://hl7.org/fhir/issue-type).
_ISSUE_FOR_STATUS = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
                     413: "too-costly", 422: "invalid", 503: "transient"}


class FhirError(Exception):
    """An error answered as an OperationOutcome: ``issue`` is the issue-type code, ``status`` the HTTP status."""

    def __init__(self, status: int, issue: str, diagnostics: str, *, expression: str | None = None) -> None:
        super().__init__(diagnostics)
        self.status, self.issue, self.diagnostics, self.expression = status, issue, diagnostics, expression


def invalid(diagnostics: str, expression: str | None = None) -> FhirError:
    return FhirError(400, "invalid", diagnostics, expression=expression)


def required(name: str) -> FhirError:
    return FhirError(400, "required", f"the parameter {name!r} is required", expression=name)


def not_supported(diagnostics: str, expression: str | None = None) -> FhirError:
    return FhirError(400, "not-supported", diagnostics, expression=expression)


def not_found(diagnostics: str, expression: str | None = None) -> FhirError:
    return FhirError(404, "not-found", diagnostics, expression=expression)


_FHIR_STRING_BAD = re.compile(r"[^ \r\n\t\S]")


def outcome_response(status: int, issue: str, diagnostics: str, expression: str | None = None,
                     severity: str = "error", headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"severity": severity, "code": issue, "diagnostics": diagnostics}
    if expression:
        # An unknown parameter's name is echoed as sent; FHIR strings allow no whitespace but space, tab, CR, LF.
        body["expression"] = [_FHIR_STRING_BAD.sub(lambda m: m.group().encode("unicode_escape").decode(), expression)]
    resource = OperationOutcome.model_validate({"resourceType": "OperationOutcome", "issue": [body]})
    headers = {**(headers or {}), **({"Retry-After": "5"} if status == 503 else {})} or None
    return Response(resource.model_dump_json(), status_code=status, media_type=FHIR_JSON, headers=headers)


def _from_exception(exc: Exception) -> Response | None:
    if isinstance(exc, FhirError):
        return outcome_response(exc.status, exc.issue, exc.diagnostics, exc.expression)
    if isinstance(exc, ServiceError):
        return outcome_response(exc.status, _ISSUE_FOR_STATUS.get(exc.status, "exception"), exc.detail)
    if isinstance(exc, RequestValidationError):
        errors = exc.errors()
        detail = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in errors)
        loc = [str(p) for p in errors[0].get("loc", ())[1:]] if errors else []
        return outcome_response(400, "invalid", detail, ".".join(loc) or None)
    if isinstance(exc, HTTPException):
        return outcome_response(exc.status_code, _ISSUE_FOR_STATUS.get(exc.status_code, "exception"), str(exc.detail))
    if isinstance(exc, ServiceUnavailable | SessionExpired):
        return outcome_response(503, "transient", f"Neo4j is not reachable: {exc}")
    return None


class FhirRoute(APIRoute):
    """A route whose every error, including those of its dependencies (API key, role), is an OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                response = _from_exception(exc)
                if response is None:
                    log.exception("unhandled error in %s", request.url.path, exc_info=exc)
                    return outcome_response(500, "exception", "an unexpected error occurred; it has been logged")
                return response

        return handle
