"""Search models."""

from __future__ import annotations

from pydantic import BaseModel


class SearchHit(BaseModel):
    code: str
    title: str | None
    billable: bool | None
    kind: str | None = None
    score: float


class SearchPage(BaseModel):
    q: str
    system: str
    release: str
    total: int
    offset: int
    limit: int
    items: list[SearchHit]
