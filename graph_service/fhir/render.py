"""FHIR resources out: built and validated with the R4 models of ``fhir.resources``, serialised once.

A release held in memory never changes, so the answer to a lookup or a code validation in it is built,
validated and serialised on first ask and then kept as bytes beside that release's table (``AnswerCache``):
the hot path is then a dict probe, as ``/v1/codes`` is.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from fastapi import Response
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.resource import Resource

from graph_service.fhir.outcome import FHIR_JSON

MAX_CACHED = 200_000  # answers per table; past it the cache starts again (a bound on memory, never reached in use)


def parameters(params: list[dict[str, Any]]) -> Parameters:
    return Parameters.model_validate({"resourceType": "Parameters", "parameter": params})


def part(name: str, value_type: str, value: Any) -> dict[str, Any]:
    return {"name": name, f"value{value_type}": value}


def fhir_bytes(resource: Resource) -> bytes:
    return resource.model_dump_json().encode()


def fhir_response(content: Resource | bytes, status_code: int = 200) -> Response:
    body = content if isinstance(content, bytes) else fhir_bytes(content)
    return Response(body, status_code=status_code, media_type=FHIR_JSON)


def searchset(base: str, resources: list[Resource]) -> Bundle:
    return Bundle.model_validate({
        "resourceType": "Bundle", "type": "searchset", "total": len(resources),
        "entry": [{"fullUrl": f"{base}/{r.get_resource_type()}/{r.id}", "resource": r.model_dump(),
                   "search": {"mode": "match"}} for r in resources],
    })


class AnswerCache:
    """Serialised answers per in-memory table; a table rebuilt (new release, reload) starts a new cache."""

    def __init__(self) -> None:
        self._by_release: dict[str, tuple[object, dict[Hashable, bytes]]] = {}

    def get(self, table: object, release: str, key: Hashable, build: Callable[[], bytes]) -> bytes:
        held = self._by_release.get(release)
        if held is None or held[0] is not table or len(held[1]) > MAX_CACHED:
            held = self._by_release[release] = (table, {})
        answers = held[1]
        found = answers.get(key)
        if found is None:
            found = answers[key] = build()
        return found
