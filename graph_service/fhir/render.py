"""FHIR resources out, and the bytes of the hot answers kept per release.

Small, rare resources (CapabilityStatement, CodeSystem, ConceptMap, Bundle, OperationOutcome) are built as
``fhir.resources`` R4 models. The operation answers (``Parameters``, ValueSet expansions) are assembled from
the part builders below and written with ``json``: the R4 model's validation and serialiser cost 20–70 ms
for a 40-parameter ``$lookup`` on this machine, longer than the whole ``/v1`` answer. With
``CODEGRAPH_FHIR_VALIDATE=1`` (the /fhir tests set it, for every request they make) each answer is also
validated with the R4 model before it is sent, so a shape the model refuses fails the tests as a 500.

A release held in memory never changes, so an answer in it is built on first ask and kept as bytes beside
that release's table (``AnswerCache``): the hot path is then a dict probe, as ``/v1/codes`` is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Hashable
from typing import Any

from fastapi import Response
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.resource import Resource

from graph_service.fhir.outcome import FHIR_JSON

MAX_CACHED = 200_000  # answers per table; past it the cache starts again (a bound on memory, never reached in use)


def validating() -> bool:
    return os.environ.get("CODEGRAPH_FHIR_VALIDATE", "") == "1"


def checked(model: type[Resource], body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as is, after the R4 model accepted it when validation is on (see the module doc)."""
    if validating():
        model.model_validate(body)
    return body


def parameters(params: list[dict[str, Any]]) -> dict[str, Any]:
    return checked(Parameters, {"resourceType": "Parameters", "parameter": params})


def part(name: str, value_type: str, value: Any) -> dict[str, Any]:
    return {"name": name, f"value{value_type}": value}


def fhir_bytes(resource: Resource | dict[str, Any]) -> bytes:
    if isinstance(resource, dict):
        return json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode()
    return resource.model_dump_json().encode()


def fhir_response(content: Resource | dict[str, Any] | bytes, status_code: int = 200) -> Response:
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
