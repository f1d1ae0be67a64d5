"""Claim edits: NCCI PTP and MUE on claim lines, diagnosis checks and the Medicare Code Editor."""

from __future__ import annotations

from fastapi import APIRouter, Response

from graph_service.blocking import answer
from graph_service.deps import GraphDep, Reader
from graph_service.models.claim_edits import ClaimEditsIn, ClaimEditsOut
from graph_service.responses import json_response
from graph_service.services.claim_edits import check_claim

router = APIRouter(prefix="/v1/edits", tags=["claim edits"])


@router.post("/claim", response_model=ClaimEditsOut)
async def post_claim_edits(body: ClaimEditsIn, graph: GraphDep, _: Reader) -> Response:
    """Every NCCI PTP conflict between lines of one date of service and setting (which line is denied, whether a
    modifier bypasses it, the edit row used), MUE violations by adjudication indicator, and — when diagnoses are
    sent — their validation on each date of service and the Medicare Code Editor's edits (with `patient`), with
    the table of edits that the MCE version in force on the discharge date applies (`mce.edits_applied`)."""
    return json_response(await answer(check_claim, graph, body))
