"""Assignment evaluation: one call checks a proposed code set against every rule family (engine, auditor)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from graph_service.blocking import answer
from graph_service.deps import GraphDep, Reader, SettingsDep
from graph_service.models.evaluation import EvaluateIn, EvaluationOut
from graph_service.responses import json_response
from graph_service.services.evaluation import evaluate, evaluate_assignment

router = APIRouter(prefix="/v1", tags=["evaluation"])


@router.post("/assignments/evaluate", response_model=EvaluationOut)
async def post_evaluate(body: EvaluateIn, graph: GraphDep, settings: SettingsDep, _: Reader) -> Response:
    """Four verdicts (valid, compliant, supported, optimal) with findings that each name their rule node and
    guideline sections, the MS-DRG now and the evidence-supported alternatives that change it, the history of
    similar encounters, and one answer: accept, accept_with_warnings, review or reject."""
    return json_response(await answer(evaluate, graph, settings, body))


@router.get("/encounters/{encounter_id}/coding/{assignment}/evaluation", response_model=EvaluationOut)
def get_evaluation(encounter_id: str, assignment: str, graph: GraphDep, settings: SettingsDep,
                   _: Reader) -> EvaluationOut:
    """The evaluation of a stored assignment (``assignment``: its id without the ``<encounter>/`` prefix), now."""
    return evaluate_assignment(graph, settings, encounter_id, assignment)
