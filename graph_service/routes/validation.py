"""Code-set validation."""

from __future__ import annotations

from fastapi import APIRouter, Response

from graph_service.blocking import answer
from graph_service.deps import GraphDep, Reader
from graph_service.models.validation import ValidateCodesIn, ValidateCodesOut
from graph_service.responses import json_response
from graph_service.services.validation import validate_codes

router = APIRouter(prefix="/v1/validate", tags=["validation"])


@router.post("/codes", response_model=ValidateCodesOut)
async def post_validate_codes(body: ValidateCodesIn, graph: GraphDep, _: Reader) -> Response:
    """Per code: exists, billable, valid on the date of service; for ICD-10-CM the EXCLUDES1 conflicts
    within the set and the CODE_FIRST / USE_ADDITIONAL requirements (met, unmet, mis-sequenced)."""
    return json_response(await answer(validate_codes, graph, body))
