"""MS-DRG: group a claim with an explanation from the graph, what-if alternatives, documentation opportunities."""

from __future__ import annotations

from fastapi import APIRouter, Response

from graph_service.blocking import answer
from graph_service.deps import GraphDep, Reader, SettingsDep
from graph_service.models.drg import DrgClaimIn, DrgGroupOut, OpportunitiesIn, OpportunitiesOut, WhatIfIn, WhatIfOut
from graph_service.responses import json_response
from graph_service.services import drg

router = APIRouter(prefix="/v1/drg", tags=["drg"])


@router.post("/group", response_model=DrgGroupOut)
async def group(body: DrgClaimIn, graph: GraphDep, settings: SettingsDep, _: Reader) -> Response:
    """The claim's MS-DRG, MDC, severity, weight and expected payment, and which rules decided them.

    Expected payment = relative weight × the payer's base rate (no wage index, IME, DSH, outliers or
    transfer adjustments). A claim the grouper cannot group (e.g. an invalid principal diagnosis) comes back
    with DRG 999 or 998, its return code and ``groupable: false``.
    """
    return json_response(await answer(drg.group_claim, graph, settings, body))


@router.post("/what-if", response_model=WhatIfOut)
async def what_if(body: WhatIfIn, graph: GraphDep, settings: SettingsDep, _: Reader) -> Response:
    """Each alternative (add/remove a diagnosis or procedure, change POA or discharge status) against the base."""
    return json_response(await answer(drg.what_if, graph, settings, body))


@router.post("/opportunities", response_model=OpportunitiesOut)
async def opportunities(body: OpportunitiesIn, graph: GraphDep, settings: SettingsDep, _: Reader) -> Response:
    """Documented but uncoded diagnoses that would raise severity or the DRG, ranked by payment gain."""
    return json_response(await answer(drg.opportunities, graph, settings, body))
