"""Code records, hierarchy navigation and subsumption."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from graph_service.blocking import answer
from graph_service.deps import GraphDep, Reader
from graph_service.models.codes import CodePage, CodeRecord, Subsumption
from graph_service.models.shapes import IsoDate
from graph_service.responses import json_response
from graph_service.services import codes

router = APIRouter(prefix="/v1/codes", tags=["codes"])

ReleaseQ = Annotated[str | None, Query(description="release version (FY2026) or id (icd10cm@FY2026)")]
DateQ = Annotated[IsoDate | None, Query(alias="date", description="date of service: the release in force then")]


@router.get("/{system}/{code}", response_model=CodeRecord)
async def get_code(system: str, code: str, graph: GraphDep, _: Reader, release: ReleaseQ = None,
                   on: DateQ = None) -> Response:
    """One code of a release: title, billable, validity window, parent chain, children count, notes (its own and
    those inherited from its ancestors, marked with the ancestor), SNOMED CT maps and successors.

    Example: ``GET /v1/codes/icd10cm/S72.001A?date=2025-11-03``; no date and no release: the latest visible one.
    """
    return Response(await answer(codes.get_code_json, graph, system, code, release, on), media_type="application/json")


@router.get("/{system}/{code}/{direction}", response_model=CodePage)
async def navigate(
    system: str, code: str, direction: Literal["children", "descendants", "ancestors"], graph: GraphDep,
    _: Reader, release: ReleaseQ = None, on: DateQ = None,
    offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Children, descendants or ancestors of a code, a page at a time with the total.

    Example: ``GET /v1/codes/icd10cm/I50/descendants?limit=50&offset=0``.
    """
    return json_response(await answer(codes.navigate, graph, system, code, direction, release=release, on=on,
                                      offset=offset, limit=limit))


@router.get("/{system}/{code_a}/subsumes/{code_b}", response_model=Subsumption)
async def subsumes(system: str, code_a: str, code_b: str, graph: GraphDep, _: Reader, release: ReleaseQ = None,
                   on: DateQ = None) -> Response:
    """FHIR $subsumes semantics: does ``code_a`` subsume ``code_b``?

    Example: ``GET /v1/codes/icd10cm/I50/subsumes/I50.23``.
    """
    return json_response(await answer(codes.subsumes, graph, system, code_a, code_b, release=release, on=on))
