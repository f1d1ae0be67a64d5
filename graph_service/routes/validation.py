"""Code-set validation."""

from __future__ import annotations

from fastapi import APIRouter

from graph_service.deps import GraphDep, Reader
from graph_service.models.validation import ValidateCodesIn, ValidateCodesOut
from graph_service.services.validation import validate_codes

router = APIRouter(prefix="/v1/validate", tags=["validation"])


@router.post("/codes", response_model=ValidateCodesOut)
def post_validate_codes(body: ValidateCodesIn, graph: GraphDep, _: Reader) -> ValidateCodesOut:
    """Per code: exists, billable, valid on the date of service; for ICD-10-CM the EXCLUDES1 conflicts
    within the set and the CODE_FIRST / USE_ADDITIONAL requirements (met, unmet, mis-sequenced)."""
    return validate_codes(graph, body)
