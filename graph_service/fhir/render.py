"""FHIR resources out, every one accepted by the ``fhir.resources`` models, and the bytes of the hot answers kept
per release.

Small, rare resources (CapabilityStatement, CodeSystem, ConceptMap, Bundle, OperationOutcome) are model
instances, serialised by the model. The operation answers are assembled with the part builders below and
passed through the model in every process before they are sent: each parameter of a ``Parameters`` is
checked with ``ParametersParameter`` (what ``Parameters.parameter`` is made of), a ValueSet expansion with
``ValueSet`` (``checked``). A shape the model refuses is a 500 OperationOutcome and a log line, never an
invalid answer. The bytes are then written with ``json`` from the checked content — what the model's own
serialiser writes (the /fhir tests assert it for every answer they get), which for a ``$lookup`` carrying a
code's inherited notes (~260 parameters) costs ~60 ms against 0.4 ms. Checking such an answer whole costs
~25 ms, so each distinct parameter is checked once per process (most recur: a chapter's notes, a parent, the
release window), and the answers of a release held in memory are kept as bytes beside that release's table
(``AnswerCache``): a release never changes, and the hot path is then a dict probe, as ``/v1/codes`` is.
Figures: bench/RESULTS.md, "FHIR answers through the model".

The models are ``fhir.resources``' R4B set, the one the encounter loader uses: the package has no 4.0.1
set, and the resources served here are the same in R4 and R4B (the tests also read every answer with the FHIR
4.0.1 models of ``fhirclient``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Response
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.parameters import ParametersParameter
from fhir.resources.R4B.resource import Resource

from graph_service.fhir.outcome import FHIR_JSON

MAX_CACHED = 200_000  # answers per table; past it the cache starts again (a bound on memory, never reached in use)
MAX_CHECKED = 100_000  # parameters remembered as accepted (their JSON, ~25 MB at most); past it, checked again
Part = dict[str, Any]  # one Parameters.parameter (or part) as its JSON
_accepted: dict[str, None] = {}  # the JSON of each parameter the model accepted, as an ordered set


@dataclass(frozen=True)
class Checked:
    """A resource's JSON that its model accepted (made only by ``checked`` and ``parameters``)."""

    body: bytes


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _without_none(value: Any) -> Any:
    """FHIR JSON has no nulls: an element without a value is left out, as the model's serialiser does."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def checked(model: type[Resource], body: dict[str, Any]) -> Checked:
    """``body`` after ``model`` accepted it; refused, it raises (pydantic's ValidationError) and is answered 500."""
    body = _without_none(body)
    model.model_validate(body)
    return Checked(_dumps(body).encode())


def timestamp() -> str:
    """Now, as the model writes an instant (``…Z``, not ``+00:00``)."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def part(name: str, value_type: str, value: Any) -> Part:
    """One named value: ``part("display", "String", "…")`` is ``{"name": "display", "valueString": "…"}``."""
    return {"name": name, f"value{value_type}": _without_none(value)}


def group(name: str, parts: list[Part]) -> Part:
    """A parameter made of parts (a ``property``, a ``designation``, a ``match``)."""
    return {"name": name, "part": parts}


def _accepted_json(param: Part) -> str:
    """The parameter's JSON once the model accepted it. A parameter is valid or not by its content alone, and
    most recur across answers (a chapter's notes inherited by every code in it, a parent, the release window),
    so each distinct one is checked once: a first ``$lookup`` then costs a few ms, not the ~25 ms of checking
    its ~260 parameters every time."""
    text = _dumps(param)
    if text not in _accepted:
        ParametersParameter.model_validate(param)
        if len(_accepted) >= MAX_CHECKED:
            _accepted.clear()
        _accepted[text] = None
    return text


def parameters(params: list[Part]) -> Checked:
    """A ``Parameters`` resource: each parameter is what the model's ``Parameters.parameter`` accepts."""
    if not params:
        return Checked(b'{"resourceType":"Parameters"}')
    return Checked(('{"resourceType":"Parameters","parameter":[' + ",".join(map(_accepted_json, params))
                    + "]}").encode())


def fhir_bytes(resource: Resource | Checked) -> bytes:
    if isinstance(resource, Checked):
        return resource.body
    return resource.model_dump_json().encode()


def fhir_response(content: Resource | Checked | bytes, status_code: int = 200) -> Response:
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
