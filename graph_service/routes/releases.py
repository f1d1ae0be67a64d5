"""Releases of each code system."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from graph_service.deps import GraphDep, Reader
from graph_service.models.releases import ReleaseDiffOut, ReleaseInfo
from graph_service.services.releases import list_releases, release_diff

router = APIRouter(prefix="/v1", tags=["releases"])


@router.get("/releases", response_model=list[ReleaseInfo])
def get_releases(graph: GraphDep, _: Reader, system: str | None = None) -> list[ReleaseInfo]:
    """Every visible release, oldest first per system."""
    return list_releases(graph, system)


@router.get("/releases/{system}/diff", response_model=ReleaseDiffOut)
def get_release_diff(
    system: str, graph: GraphDep, _: Reader,
    from_: Annotated[str, Query(alias="from", description="older release, e.g. FY2025")],
    to: Annotated[str, Query(description="newer release, e.g. FY2026")],
    limit: Annotated[int, Query(ge=0, le=100_000)] = 1000,
) -> ReleaseDiffOut:
    """Exact set difference of the two releases' codes, with counts."""
    return release_diff(graph, system, from_, to, limit)
