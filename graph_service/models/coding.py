"""Coding assignment models: what a coder or engine assigns to an encounter, and what the graph keeps."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from graph_service.models.base import RequestModel
from graph_service.models.validation import SystemId


class CoderKind(StrEnum):
    human = "human"
    engine = "engine"


class AssignmentStatus(StrEnum):
    draft = "draft"
    final = "final"
    amended = "amended"


class CodeRole(StrEnum):
    principal = "principal"
    secondary = "secondary"
    procedure = "procedure"


class CoderIn(RequestModel):
    id: str = Field(min_length=1, max_length=100)
    kind: CoderKind


class AssignedCodeIn(RequestModel):
    system: SystemId = Field(default="icd10cm")
    code: str = Field(min_length=1, max_length=20)
    role: CodeRole
    sequence: int = Field(ge=1, le=100)
    poa: str | None = Field(default=None, pattern="^[YNUW1]$", description="present on admission: Y N U W 1")
    modifiers: list[str] = Field(default_factory=list, max_length=4)
    units: int = Field(default=1, ge=1, le=9999)
    evidence: list[str] = Field(default_factory=list, description="ids of the encounter's evidence nodes that "
                                                                  "support this code")


EXAMPLE_CODINGASSIGNMENTIN: dict = {
    "coder": {
        "id": "coder-17",
        "kind": "human"
    },
    "status": "final",
    "codes": [
        {
            "system": "icd10cm",
            "code": "I50.23",
            "role": "principal",
            "sequence": 1,
            "poa": "Y"
        }
    ]
}


class CodingAssignmentIn(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_CODINGASSIGNMENTIN]})
    coder: CoderIn
    status: AssignmentStatus
    created_at: datetime | None = Field(default=None, description="default: now")
    codes: list[AssignedCodeIn] = Field(min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=2000, description="why this revision was made")

    @model_validator(mode="after")
    def _one_principal(self) -> CodingAssignmentIn:
        principals = [c for c in self.codes if c.role is CodeRole.principal]
        if len(principals) > 1:
            raise ValueError("at most one principal diagnosis")
        if self.status is not AssignmentStatus.draft and not principals:
            raise ValueError("a final or amended assignment needs a principal diagnosis")
        seq = [(c.role is CodeRole.procedure, c.sequence) for c in self.codes]
        if len(seq) != len(set(seq)):
            raise ValueError("sequence numbers must be unique among diagnoses and among procedures")
        return self


class DrgOutcome(BaseModel):
    drg: str
    mdc: str | None
    severity: str | None
    weight: float | None
    expected_payment: float | None
    grouper_version: str
    return_code: str | None = None


class CodingAssignmentOut(BaseModel):
    id: str
    encounter: str
    version: int
    status: AssignmentStatus
    supersedes: str | None
    coder: CoderIn
    created_at: datetime
    drg: DrgOutcome | None
    findings: dict[str, Any] = Field(default_factory=dict, description="edits and coverage at assignment time")
    unsupported_codes: list[str] = Field(description="codes sent with no supporting evidence")
    evaluation_id: str | None = Field(default=None, description="final/amended: the stored Evaluation node")
    evaluation_overall: str | None = Field(default=None, description="its answer: accept … reject")
