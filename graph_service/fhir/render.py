"""FHIR resources out, built with the ``fhir.resources`` models, and the bytes of the hot answers kept per release.

Every answer is a model instance: a resource (CapabilityStatement, CodeSystem, ConceptMap, ValueSet, Bundle,
OperationOutcome) or a ``Parameters`` whose parameters are ``ParametersParameter`` models made by ``part`` and
``group`` below. A shape the model refuses therefore fails where it is built, in every process, not only under
a test switch; the bytes sent are the model's own serialisation.

The models are ``fhir.resources``' R4B set, the one the encounter loader uses: the package has no 4.0.1 set,
and the resources served here are the same in R4 and R4B (the tests also read every answer with the R4 4.0.1
models of ``fhirclient``). Building and serialising with the model costs a few milliseconds for a
40-parameter ``$lookup``, so the answers of a release held in memory are built on first ask and kept as bytes
beside that release's table (``AnswerCache``): a release never changes, and the hot path is then a dict probe,
as ``/v1/codes`` is.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from fastapi import Response
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.parameters import Parameters, ParametersParameter
from fhir.resources.R4B.resource import Resource

from graph_service.fhir.outcome import FHIR_JSON

MAX_CACHED = 200_000  # answers per table; past it the cache starts again (a bound on memory, never reached in use)
Part = ParametersParameter


def part(name: str, value_type: str, value: Any) -> Part:
    """One named value: ``part("display", "String", "…")`` is ``{"name": "display", "valueString": "…"}``."""
    return ParametersParameter(**{"name": name, f"value{value_type}": value})


def group(name: str, parts: list[Part]) -> Part:
    """A parameter made of parts (a ``property``, a ``designation``, a ``match``)."""
    return ParametersParameter(name=name, part=parts)


def parameters(params: list[Part]) -> Parameters:
    return Parameters(parameter=params or None)


def fhir_bytes(resource: Resource) -> bytes:
    return resource.model_dump_json().encode()


def fhir_response(content: Resource | bytes, status_code: int = 200) -> Response:
    body = content if isinstance(content, bytes) else fhir_bytes(content)
    return Response(body, status_code=status_code, media_type=FHIR_JSON)


def searchset(base: str, resources: list[Resource]) -> Bundle:
    return Bundle.model_validate({
        "resourceType": "Bundle", "type": "searchset", "total": len(resources),
        "entry": [{"fullUrl": f"{base}/{r.get_resource_type()}/{r.id}", "resource": r,
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
