"""Auditor Cypher models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class CypherIn(BaseModel):
    query: str = Field(min_length=1, max_length=20_000)
    params: dict[str, Any] = Field(default_factory=dict)


class NamedQueryIn(BaseModel):
    params: dict[str, Any] = Field(default_factory=dict)


class CypherOut(BaseModel):
    columns: list[str]
    rows: list[dict[str, Any]]
    row_count: int
    truncated: bool = Field(description="true when the row cap cut the result")
    row_cap: int
    timeout_s: float


class QueryParamOut(BaseModel):
    name: str
    type: str
    default: Any
    description: str


class NamedQueryOut(BaseModel):
    name: str
    description: str
    file: str
    params: list[QueryParamOut]
    example: str
