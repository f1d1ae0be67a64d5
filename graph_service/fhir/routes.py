"""``/fhir``: thin routes — read the inputs, call the operation, send ``application/fhir+json``.

Operations answered from the release tables held in memory run on the event loop (``blocking.answer``),
the others in the thread pool, exactly as the ``/v1`` routes do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.routing import APIRoute

from graph_service.blocking import answer
from graph_service.deps import GraphDep, Reader
from graph_service.fhir import (
    capabilities,
    codesystems,
    conceptmaps,
    lookup,
    stored_valuesets,
    translate,
    valuesets,
)
from graph_service.fhir.openapi import get_extra, post_extra
from graph_service.fhir.outcome import FHIR_JSON, FhirError, FhirRoute, invalid, outcome_response
from graph_service.fhir.params import Inputs, from_body, from_query
from graph_service.fhir.render import fhir_response, searchset
from graph_service.graph import Graph

router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute)
Operation = Callable[[Graph, Inputs], bytes]
FHIR_RESPONSES = {200: {"content": {FHIR_JSON: {}}, "description": "a FHIR resource"},
                  400: {"content": {FHIR_JSON: {}}, "description": "OperationOutcome"},
                  404: {"content": {FHIR_JSON: {}}, "description": "OperationOutcome"}}
METADATA_MODES = ("full", "normative", "terminology")


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


def _operation(path: str, operation: Operation, served: frozenset[str], summary: str) -> None:
    """GET with the inputs in the query string and POST with a Parameters body, for one operation."""

    async def get(request: Request, graph: GraphDep, _: Reader) -> Response:
        return fhir_response(await answer(operation, graph, from_query(request, served)))

    async def post(request: Request, graph: GraphDep, _: Reader) -> Response:
        return fhir_response(await answer(operation, graph, await from_body(request, served)))

    name = path.strip("/").replace("/$", "_").replace("-", "_")
    # The inputs are read by ``params``; ``openapi`` only states them in the published schema.
    router.add_api_route(path, get, methods=["GET"], summary=summary, name=f"{name}_get", responses=FHIR_RESPONSES,
                         openapi_extra=get_extra(path))
    router.add_api_route(path, post, methods=["POST"], summary=summary, name=f"{name}_post",
                         responses=FHIR_RESPONSES, openapi_extra=post_extra(path))


@router.get("/metadata", responses=FHIR_RESPONSES)
async def metadata(request: Request, graph: GraphDep, _: Reader,
                   mode: Annotated[str | None, Query(json_schema_extra={"enum": list(METADATA_MODES)})] = None
                   ) -> Response:
    """CapabilityStatement; ``?mode=terminology``: TerminologyCapabilities with the loaded systems/versions."""
    if mode in (None, *METADATA_MODES[:2]):
        return fhir_response(capabilities.capability_statement(_base(request)))
    if mode == "terminology":
        return fhir_response(await answer(capabilities.terminology_capabilities, graph, _base(request)))
    raise invalid(f"mode {mode!r} is not one of {', '.join(METADATA_MODES)}", "mode")


_operation("/CodeSystem/$lookup", lookup.lookup, lookup.LOOKUP_PARAMS, "CodeSystem $lookup")
_operation("/CodeSystem/$validate-code", lookup.validate, lookup.VALIDATE_PARAMS, "CodeSystem $validate-code")
_operation("/CodeSystem/$subsumes", lookup.subsumes, lookup.SUBSUMES_PARAMS, "CodeSystem $subsumes")
_operation("/ValueSet/$expand", valuesets.expand, valuesets.EXPAND_PARAMS, "ValueSet $expand")
_operation("/ValueSet/$validate-code", valuesets.validate, valuesets.VALIDATE_PARAMS, "ValueSet $validate-code")
_operation("/ConceptMap/$translate", translate.translate, translate.TRANSLATE_PARAMS, "ConceptMap $translate")


@router.get("/CodeSystem", responses=FHIR_RESPONSES)
async def search_code_systems(request: Request, graph: GraphDep, _: Reader, url: str | None = None,
                              version: str | None = None, id_: Annotated[str | None, Query(alias="_id")] = None
                              ) -> Response:
    found = await answer(codesystems.search, graph, url, version, id_)
    return fhir_response(searchset(_base(request), list(found)))


@router.get("/CodeSystem/{id_}", responses=FHIR_RESPONSES)
async def read_code_system(id_: str, graph: GraphDep, _: Reader) -> Response:
    return fhir_response(await answer(codesystems.read, graph, id_))


@router.get("/ValueSet", responses=FHIR_RESPONSES)
async def search_value_sets(request: Request, graph: GraphDep, _: Reader, url: str | None = None) -> Response:
    """The stored value sets (implicit ones are not listed: they are named by their URL pattern)."""
    return fhir_response(searchset(_base(request), list(await answer(stored_valuesets.search, graph, url))))


@router.get("/ConceptMap", responses=FHIR_RESPONSES)
async def search_concept_maps(request: Request, graph: GraphDep, _: Reader, url: str | None = None) -> Response:
    return fhir_response(searchset(_base(request), list(await answer(conceptmaps.concept_maps, graph, url))))


CATCH_ALL = "/{rest:path}"


@router.api_route(CATCH_ALL, methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
async def not_served(request: Request, rest: str, _: Reader) -> Response:
    """A known path asked with a method it does not serve is 405 with Allow; any other path is 404."""
    path = f"/fhir/{rest}"
    allowed = sorted({m for r in router.routes if isinstance(r, APIRoute) and not r.path.endswith(CATCH_ALL)
                      and r.path_regex.match(path) for m in r.methods or ()})
    if allowed:
        return outcome_response(405, "not-supported", f"{request.method} is not served on {path}; allowed: "
                                f"{', '.join(allowed)}", headers={"Allow": ", ".join(allowed)})
    raise FhirError(404, "not-supported", f"{path} is not served: see /fhir/metadata")
