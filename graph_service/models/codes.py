"""Code lookup and navigation models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class CodeRef(BaseModel):
    system: str
    code: str
    title: str | None = None
    billable: bool | None = None


class NoteTarget(BaseModel):
    kind: str = Field(description="EXCLUDES1, EXCLUDES2, CODE_FIRST, USE_ADDITIONAL or CODE_ALSO")
    target: CodeRef
    note: str | None = Field(default=None, description="the note's text as printed in the tabular list")
    condition: str | None = Field(default=None, description="'if applicable', 'if known' or 'if present' when "
                                  "the note applies only in some cases")
    qualifier: str | None = Field(default=None, description="the words after 'with' that chose this target of "
                                  "a written range, e.g. '.42' in '(E08-E13 with .42)'")
    inherited_from: str | None = Field(default=None, description="the ancestor (category, block or chapter) the "
                                       "note is written on; absent when written on this code. ICD-10-CM notes "
                                       "apply to every code below the one they are written on")


class MapRow(BaseModel):
    group: int
    priority: int
    rule: str
    advice: str | None
    target: str | None
    correlation: str | None = None
    category: str | None = None


class CodeRecord(BaseModel):
    system: str
    code: str
    title: str
    billable: bool | None
    kind: str | None = None
    release: str
    valid_from: str | None = Field(description="first visible release containing the code")
    valid_to: str | None = Field(description="last visible release containing the code")
    releases: list[str]
    parents: list[CodeRef] = Field(description="parent chain, nearest first")
    children_count: int
    inclusion_terms: list[str] = []
    notes: list[NoteTarget] = []
    unresolved_notes: list[str] = []
    maps: list[MapRow] = []
    replaced_by: list[dict[str, str | None]] = Field(
        default=[], description="successors in later releases (REPLACED_BY), with the release and basis")
    properties: dict[str, Any] = {}


class CodePage(BaseModel):
    system: str
    code: str
    release: str
    total: int
    offset: int
    limit: int
    items: list[CodeRef]


class Subsumption(BaseModel):
    system: str
    release: str
    code_a: str
    code_b: str
    outcome: str = Field(description="equivalent | subsumes | subsumed-by | not-subsumed (FHIR $subsumes)")
