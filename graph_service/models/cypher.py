"""Auditor Cypher models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from graph_service.models.base import RequestModel

EXAMPLE_CYPHERIN: dict = {
    "query": "MATCH (r:Release) RETURN r.id AS id ORDER BY id LIMIT $n",
    "params": {
        "n": 10
    }
}


class CypherIn(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_CYPHERIN]})
    query: str = Field(min_length=1, max_length=20_000)
    params: dict[str, Any] = Field(default_factory=dict)


EXAMPLE_NAMEDQUERYIN: dict = {
    "params": {
        "system": "icd10cm",
        "code": "E11.9"
    }
}


class NamedQueryIn(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_NAMEDQUERYIN]})
    params: dict[str, Any] = Field(default_factory=dict)


class CypherOut(BaseModel):
    columns: list[str]
    rows: list[dict[str, Any]]
    row_count: int
    truncated: bool = Field(description="true when more rows follow (the row cap or the page cut the result)")
    next: str | None = Field(default=None, description="named queries: the cursor of the next page (pass as "
                             "?cursor=); null on the last page")
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
