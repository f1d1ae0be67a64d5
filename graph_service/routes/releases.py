"""Releases of each code system."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from graph_service.deps import GraphDep, Maintainer, Reader
from graph_service.models.releases import ReleaseDiffOut, ReleaseInfo, RetractIn, RetractOut
from graph_service.services.releases import list_releases, release_diff, retract_release

router = APIRouter(prefix="/v1", tags=["releases"])


@router.get("/releases", response_model=list[ReleaseInfo])
def get_releases(graph: GraphDep, _: Reader, system: str | None = None) -> list[ReleaseInfo]:
    """Every visible release, oldest first per system. Example: ``GET /v1/releases?system=icd10cm``."""
    return list_releases(graph, system)


@router.get("/releases/{system}/diff", response_model=ReleaseDiffOut)
def get_release_diff(
    system: str, graph: GraphDep, _: Reader,
    from_: Annotated[str, Query(alias="from", description="older release, e.g. FY2025")],
    to: Annotated[str, Query(description="newer release, e.g. FY2026")],
    limit: Annotated[int, Query(ge=0, le=100_000)] = 1000,
) -> ReleaseDiffOut:
    """Exact set difference of the two releases' codes, with counts.
    Example: ``GET /v1/releases/icd10cm/diff?from=FY2025&to=FY2026``."""
    return release_diff(graph, system, from_, to, limit)


@router.post("/releases/{release_id}/retract", response_model=RetractOut,
             responses={404: {"description": "no such release"},
                        409: {"description": "the release is not visible (staging, or already retracted)"}})
def post_retract(
    release_id: str, graph: GraphDep, role: Maintainer,
    body: Annotated[RetractIn | None, Body(examples=[{"reason": "FY2026 code file was cut short"}])] = None,
    limit: Annotated[int, Query(ge=0, le=10_000, description="assignments listed; the count is complete")] = 1000,
) -> RetractOut:
    """Take a visible release (``icd10cm@FY2026``) out of service at once: queries stop reading it, the release
    and its load runs are kept for audit, and corrected files can be loaded under the same id. Lists the open
    coding assignments that were checked against it."""
    return retract_release(graph, release_id, body.reason if body else None, f"api:{role.value}", limit)
