"""Releases of each code system."""

from __future__ import annotations

from fastapi import APIRouter

from graph_service.deps import GraphDep, Reader
from graph_service.models.releases import ReleaseInfo
from graph_service.services.releases import list_releases

router = APIRouter(prefix="/v1", tags=["releases"])


@router.get("/releases", response_model=list[ReleaseInfo])
def get_releases(graph: GraphDep, _: Reader, system: str | None = None) -> list[ReleaseInfo]:
    """Every visible release, oldest first per system."""
    return list_releases(graph, system)
