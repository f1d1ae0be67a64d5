"""Encounters: coding assignments (engine, maintainer) and audit traces (auditor)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse

from graph_service.deps import Auditor, GraphDep, SettingsDep, Writer
from graph_service.errors import ServiceError
from graph_service.models.coding import AssignmentStatus, CodingAssignmentIn, CodingAssignmentOut
from graph_service.models.encounters import DrgShiftPage, EncountersLoadedOut
from graph_service.services.audits import (
    SHIFT_PAGE_DEFAULT,
    SHIFT_PAGE_MAX,
    drg_shifts_page,
    encounter_trace,
    run_audit_page,
)
from graph_service.services.coding import record_assignment
from graph_service.services.encounters import load_encounter_bundle
from graph_service.services.evaluation import evaluate_assignment
from graph_service.services.query_pages import Cursor, csv_response, page_headers, wants_csv

router = APIRouter(prefix="/v1", tags=["encounters", "audit"])

AUDIT_PAGE_DEFAULT = 1000
PageLimit = Annotated[int, Query(ge=1, le=10_000, description="rows per page (follow X-Next-Cursor for the rest)")]
PageCursor = Annotated[str | None, Query(max_length=400, description="the previous page's X-Next-Cursor")]


@router.post("/encounters", response_model=EncountersLoadedOut, status_code=201)
def post_encounters(
    bundle: Annotated[dict[str, Any], Body(description="a FHIR R4 Bundle (collection or transaction) holding "
                                           "Patient, Encounter, Condition, Procedure, Observation, "
                                           "DocumentReference and Coverage resources")],
    graph: GraphDep, settings: SettingsDep, _: Writer,
) -> EncountersLoadedOut:
    """Load a FHIR Bundle whole or not at all (422 with every located issue); the encounters and their evidence.
    Example: ``POST /v1/encounters`` with ``tests/fixtures/fhir/inpatient_heart_failure.json``."""
    return load_encounter_bundle(graph, settings, bundle)


@router.post("/encounters/{encounter_id}/coding", response_model=CodingAssignmentOut, status_code=201)
def post_coding(encounter_id: str, body: CodingAssignmentIn, graph: GraphDep, settings: SettingsDep,
                _: Writer) -> CodingAssignmentOut:
    """Record a coding assignment; it supersedes the encounter's current one, which is kept. A final or amended
    assignment is evaluated (POST /v1/assignments/evaluate) and the evaluation stored with it."""
    out = record_assignment(graph, settings, encounter_id, body)
    if out.status is not AssignmentStatus.draft:
        try:
            evaluation = evaluate_assignment(graph, settings, encounter_id, out.id, store=True)
        except ServiceError as exc:  # the assignment is recorded either way; say why it has no evaluation
            out.findings["evaluation"] = f"not evaluated: {exc.detail}"
        else:
            out.evaluation_id, out.evaluation_overall = evaluation.evaluation_id, evaluation.overall
    return out


@router.get("/encounters/{encounter_id}/trace")
def get_trace(encounter_id: str, graph: GraphDep, settings: SettingsDep, _: Auditor) -> dict[str, Any]:
    """Documents → evidence → concepts → derived codes → assigned codes → findings → DRG, every version.
    Example: ``GET /v1/encounters/enc-0000001/trace``."""
    return encounter_trace(graph, settings, encounter_id)


@router.get("/audit/drg-shifts", response_model=DrgShiftPage)
def get_drg_shifts(
    graph: GraphDep, settings: SettingsDep, _: Auditor,
    min_delta: Annotated[float, Query(ge=0)] = 5000.0, payer: str | None = None, coder: str | None = None,
    from_date: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
    to_date: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
    limit: Annotated[int, Query(ge=1, le=SHIFT_PAGE_MAX)] = SHIFT_PAGE_DEFAULT,
    cursor: Cursor = None,
) -> DrgShiftPage:
    """Encounters whose coding revisions moved expected payment by more than ``min_delta`` dollars, largest first,
    a page at a time (follow ``next``). Example: ``GET /v1/audit/drg-shifts?min_delta=5000&limit=100``."""
    return drg_shifts_page(graph, settings, min_delta=min_delta, payer=payer, coder=coder, from_date=from_date,
                           to_date=to_date, limit=limit, cursor=cursor)


@router.get("/audit/unsupported-codes", response_model=list[dict[str, Any]])
def get_unsupported(graph: GraphDep, settings: SettingsDep, _: Auditor, request: Request,
                    coder: str | None = None, limit: PageLimit = AUDIT_PAGE_DEFAULT,
                    cursor: PageCursor = None) -> Response:
    """Assigned codes with no supporting evidence in the encounter's documents.
    Example: ``GET /v1/audit/unsupported-codes?coder=coder-cruz``."""
    return _audit_page(request, graph, settings, "unsupported_codes", {"coder": coder}, limit, cursor)


@router.get("/audit/missed-opportunities", response_model=list[dict[str, Any]])
def get_missed(graph: GraphDep, settings: SettingsDep, _: Auditor, request: Request,
               grouper_version: str = "43", limit: PageLimit = AUDIT_PAGE_DEFAULT,
               cursor: PageCursor = None) -> Response:
    """Evidence-backed diagnoses that were not coded although they would change the DRG.
    Example: ``GET /v1/audit/missed-opportunities?grouper_version=43``."""
    params = {"grouper_version": grouper_version}
    return _audit_page(request, graph, settings, "missed_opportunities", params, limit, cursor)


@router.get("/audit/coder-patterns", response_model=list[dict[str, Any]])
def get_coder_patterns(graph: GraphDep, settings: SettingsDep, _: Auditor, request: Request,
                       min_revisions: Annotated[int, Query(ge=1)] = 1, limit: PageLimit = AUDIT_PAGE_DEFAULT,
                       cursor: PageCursor = None) -> Response:
    """Per coder: revisions, codes added and removed, payment moved.
    Example: ``GET /v1/audit/coder-patterns?min_revisions=2``."""
    return _audit_page(request, graph, settings, "coder_patterns", {"min_revisions": min_revisions}, limit, cursor)


@router.get("/audit/retired-codes", response_model=list[dict[str, Any]])
def get_retired_codes(graph: GraphDep, settings: SettingsDep, _: Auditor, request: Request,
                      to_release: str = "icd10cm@FY2026", limit: PageLimit = AUDIT_PAGE_DEFAULT,
                      cursor: PageCursor = None) -> Response:
    """Assignments using codes a later release deleted or made non-billable (``to_release``: FY2026 or
    icd10cm@FY2026). Example: ``GET /v1/audit/retired-codes?to_release=FY2026``."""
    params = {"to_release": to_release}
    return _audit_page(request, graph, settings, "assignments_using_retired_codes", params, limit, cursor)


def _audit_page(request: Request, graph: GraphDep, settings: SettingsDep, name: str, params: dict[str, Any],
                limit: int, cursor: str | None) -> Response:
    """A page of an audit as JSON (a list) or CSV (``Accept: text/csv``); ``X-Truncated``, ``X-Next-Cursor`` and
    ``Link: rel="next"`` say whether more rows follow and how to get them."""
    columns, rows, next_cursor = run_audit_page(graph, settings, name, params, limit=limit, cursor=cursor)
    headers = page_headers(next_cursor, request)
    if wants_csv(request):
        return csv_response(columns, rows, headers)
    return JSONResponse(rows, headers=headers)
