"""Encounters: coding assignments (engine, maintainer) and audit traces (auditor)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from graph_service.deps import Auditor, GraphDep, SettingsDep, Writer
from graph_service.models.coding import AssignmentStatus, CodingAssignmentIn, CodingAssignmentOut
from graph_service.models.encounters import DrgShiftPage, EncountersLoadedOut
from graph_service.services.audits import (
    SHIFT_PAGE_DEFAULT,
    SHIFT_PAGE_MAX,
    drg_shifts_page,
    encounter_trace,
    run_audit,
)
from graph_service.services.coding import record_assignment
from graph_service.services.encounters import load_encounter_bundle
from graph_service.services.evaluation import evaluate_assignment

router = APIRouter(prefix="/v1", tags=["encounters", "audit"])


@router.post("/encounters", response_model=EncountersLoadedOut, status_code=201)
def post_encounters(
    bundle: Annotated[dict[str, Any], Body(description="a FHIR R4 Bundle (collection or transaction) holding "
                                           "Patient, Encounter, Condition, Procedure, Observation, "
                                           "DocumentReference and Coverage resources")],
    graph: GraphDep, settings: SettingsDep, _: Writer,
) -> EncountersLoadedOut:
    """Load a FHIR Bundle whole or not at all (422 with every located issue); the encounters and their evidence."""
    return load_encounter_bundle(graph, settings, bundle)


@router.post("/encounters/{encounter_id}/coding", response_model=CodingAssignmentOut, status_code=201)
def post_coding(encounter_id: str, body: CodingAssignmentIn, graph: GraphDep, settings: SettingsDep,
                _: Writer) -> CodingAssignmentOut:
    """Record a coding assignment; it supersedes the encounter's current one, which is kept. A final or amended
    assignment is evaluated (POST /v1/assignments/evaluate) and the evaluation stored with it."""
    out = record_assignment(graph, settings, encounter_id, body)
    if out.status is not AssignmentStatus.draft:
        evaluation = evaluate_assignment(graph, settings, encounter_id, out.id, store=True)
        out.evaluation_id, out.evaluation_overall = evaluation.evaluation_id, evaluation.overall
    return out


@router.get("/encounters/{encounter_id}/trace")
def get_trace(encounter_id: str, graph: GraphDep, settings: SettingsDep, _: Auditor) -> dict[str, Any]:
    """Documents → evidence → concepts → derived codes → assigned codes → findings → DRG, every version."""
    return encounter_trace(graph, settings, encounter_id)


@router.get("/audit/drg-shifts", response_model=DrgShiftPage)
def get_drg_shifts(
    graph: GraphDep, settings: SettingsDep, _: Auditor,
    min_delta: Annotated[float, Query(ge=0)] = 5000.0, payer: str | None = None, coder: str | None = None,
    from_date: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
    to_date: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
    limit: Annotated[int, Query(ge=1, le=SHIFT_PAGE_MAX)] = SHIFT_PAGE_DEFAULT,
    cursor: Annotated[str | None, Query(max_length=400, description="the previous page's next")] = None,
) -> DrgShiftPage:
    """Encounters whose coding revisions moved expected payment by more than ``min_delta`` dollars, largest first,
    a page at a time (follow ``next``)."""
    return drg_shifts_page(graph, settings, min_delta=min_delta, payer=payer, coder=coder, from_date=from_date,
                           to_date=to_date, limit=limit, cursor=cursor)


@router.get("/audit/unsupported-codes")
def get_unsupported(graph: GraphDep, settings: SettingsDep, _: Auditor,
                    coder: str | None = None) -> list[dict[str, Any]]:
    return run_audit(graph, settings, "unsupported_codes", {"coder": coder})


@router.get("/audit/missed-opportunities")
def get_missed(graph: GraphDep, settings: SettingsDep, _: Auditor,
               grouper_version: str = "43") -> list[dict[str, Any]]:
    return run_audit(graph, settings, "missed_opportunities", {"grouper_version": grouper_version})


@router.get("/audit/coder-patterns")
def get_coder_patterns(graph: GraphDep, settings: SettingsDep, _: Auditor,
                       min_revisions: Annotated[int, Query(ge=1)] = 1) -> list[dict[str, Any]]:
    return run_audit(graph, settings, "coder_patterns", {"min_revisions": min_revisions})


@router.get("/audit/retired-codes")
def get_retired_codes(graph: GraphDep, settings: SettingsDep, _: Auditor,
                      to_release: str = "icd10cm@FY2026") -> list[dict[str, Any]]:
    return run_audit(graph, settings, "assignments_using_retired_codes", {"to_release": to_release})
