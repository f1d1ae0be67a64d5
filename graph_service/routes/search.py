"""Full-text code search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from graph_service.deps import GraphDep, Reader
from graph_service.errors import NotFound
from graph_service.models.search import SearchPage
from graph_service.services.search import search_codes
from ontology.code_systems import SYSTEMS

router = APIRouter(prefix="/v1", tags=["search"])


@router.get("/search", response_model=SearchPage)
def get_search(
    graph: GraphDep, _: Reader,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    system: str = "icd10cm",
    release: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> SearchPage:
    """Ranked full-text search over titles and inclusion terms of one release (default: current).
    Example: ``GET /v1/search?q=heart%20failure&system=icd10cm``."""
    if system.lower() not in SYSTEMS:
        raise NotFound(f"unknown code system {system!r}; known: {sorted(SYSTEMS)}")
    return search_codes(graph, q, system, release, offset, limit)
