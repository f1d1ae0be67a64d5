"""Payer coverage of procedures for a claim's diagnoses."""

from __future__ import annotations

from fastapi import APIRouter

from graph_service.deps import GraphDep, Reader
from graph_service.models.coverage import CoverageIn, CoverageOut
from graph_service.services.coverage import check_coverage

router = APIRouter(prefix="/v1/coverage", tags=["coverage"])


@router.post("", response_model=CoverageOut)
def post_coverage(body: CoverageIn, graph: GraphDep, _: Reader) -> CoverageOut:
    """Per procedure: covered, not_covered, no_policy or needs_review, with the supporting diagnosis, the rule
    edge that matched (exact, or through an ancestor category listed with its descendants) and the policy
    path (payer, release, document and version, group pair or rule id), prior authorization and frequency.

    Only policies in force on the date of service count. Precedence: a covered diagnosis on any rule wins;
    then a rule without a covered list that denies none of the diagnoses; then an unpaired covered diagnosis
    of an article under review (needs_review); then an explicit denial; otherwise not covered.
    """
    return check_coverage(graph, body)
