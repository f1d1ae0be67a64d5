"""Assignment evaluation: an encounter (by id or inline) and a proposed code set in; four verdicts out.

Every finding names the rule node that produced it (id, kind, release, source file) and the guideline
sections behind the check, the codes, lines and evidence it involves, and one line of explanation.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from graph_service.models.drg import DxCode, PcsCode, PoaIn
from graph_service.models.shapes import IsoDate
from graph_service.models.validation import SystemId

_MODIFIER = re.compile(r"[0-9A-Z]{2}")
_PROCEDURE = re.compile(r"[0-9]{4}[0-9FTU]|[A-V][0-9]{4}")
Family = Literal["valid", "compliant", "supported", "optimal", "history"]
Severity = Literal["error", "warning", "opportunity", "info"]
LineSetting = Literal["practitioner", "outpatient_hospital"]


class _In(BaseModel):
    # A misspelt field must not be dropped silently: it would change the verdict.
    model_config = ConfigDict(extra="forbid")


class CodeRefIn(_In):
    system: SystemId = Field(description="icd10cm, icd10pcs, cpt, hcpcs, snomed")
    code: str = Field(min_length=1, max_length=20)


class EvidenceIn(_In):
    id: str = Field(min_length=1, max_length=200)
    kind: Literal["condition", "procedure", "observation", "finding"] = "condition"
    snomed: list[str] = Field(default_factory=list, max_length=20, description="SNOMED CT concept ids it states")
    codes: list[CodeRefIn] = Field(default_factory=list, max_length=20, description="codes it states directly")
    qualifiers: list[str] = Field(default_factory=list, max_length=10,
                                  description="SNOMED CT qualifier values (e.g. laterality 24028007 Right)")
    poa: PoaIn = Field(default=None, description="documented present on admission (conditions)")
    admission_reason: bool = Field(default=False, description="documented as a reason for the admission: only such "
                                                              "a condition is tried as an alternative principal")
    text: str | None = Field(default=None, max_length=2000)

    @field_validator("snomed", "qualifiers")
    @classmethod
    def _sctids(cls, v: list[str]) -> list[str]:
        out = [c.strip() for c in v]
        if bad := [c for c in out if not re.fullmatch(r"[1-9][0-9]{5,17}", c)]:
            raise ValueError(f"SNOMED CT concept ids are 6-18 digits; got {bad}")
        return out


class EncounterIn(_In):
    setting: Literal["inpatient", "outpatient_hospital", "practitioner"] = "inpatient"
    age: int = Field(ge=0, le=124, description="age in years at admission")
    sex: Literal["male", "female", "unknown"]
    admission_date: IsoDate
    discharge_date: IsoDate
    payer: str | None = Field(default=None, max_length=100)
    discharge_status: int = Field(default=1, ge=1, le=99, description="UB-04 patient discharge status (1 = home)")
    evidence: list[EvidenceIn] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _dates(self) -> EncounterIn:
        if self.discharge_date < self.admission_date:
            raise ValueError("discharge_date is before admission_date")
        ids = [x.id for x in self.evidence]
        if repeated := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"evidence ids must be unique; repeated: {repeated}")
        return self


class DiagnosisIn(_In):
    code: DxCode = Field(description="ICD-10-CM, dotted or not")
    poa: PoaIn = None
    evidence: list[str] = Field(default_factory=list, max_length=20, description="ids of the supporting evidence")


class ProcedureIn(_In):
    code: PcsCode = Field(description="ICD-10-PCS")
    date_of_service: IsoDate | None = None
    evidence: list[str] = Field(default_factory=list, max_length=20)


class LineIn(_In):
    line_id: str | None = Field(default=None, min_length=1, max_length=64, description="default: its position")
    code: str = Field(min_length=5, max_length=5, description="CPT or HCPCS Level II")
    modifiers: list[Annotated[str, Field(pattern=r"^[0-9A-Za-z]{2}$")]] = Field(default_factory=list, max_length=4)
    units: int = Field(default=1, ge=1, le=9999)
    date_of_service: IsoDate | None = Field(default=None, description="default: the discharge date")
    setting: LineSetting | None = Field(default=None, description="default: from the encounter's setting")
    evidence: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        v = v.strip().upper()
        if not _PROCEDURE.fullmatch(v):
            raise ValueError(f"{v!r} is not a CPT or HCPCS Level II code")
        return v

    @field_validator("modifiers")
    @classmethod
    def _modifiers(cls, v: list[str]) -> list[str]:
        out = [m.strip().upper() for m in v]
        if bad := [m for m in out if not _MODIFIER.fullmatch(m)]:
            raise ValueError(f"a modifier is two letters or digits; got {bad}")
        return out


class ProposedCodes(_In):
    principal: DiagnosisIn
    secondary: list[DiagnosisIn] = Field(default_factory=list, max_length=24)
    procedures: list[ProcedureIn] = Field(default_factory=list, max_length=25)
    lines: list[LineIn] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _distinct(self) -> ProposedCodes:
        dx = [self.principal.code, *(d.code for d in self.secondary)]
        if repeated := sorted({c for c in dx if dx.count(c) > 1}):
            raise ValueError(f"diagnoses listed twice: {repeated}")
        ids = [line.line_id for line in self.lines if line.line_id]
        if repeated := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"line_id must be unique; repeated: {repeated}")
        return self


class EvaluateIn(_In):
    encounter_id: str | None = Field(default=None, max_length=200, description="an encounter of the graph")
    encounter: EncounterIn | None = Field(default=None, description="or the encounter inline")
    codes: ProposedCodes
    include_history: bool = Field(default=True, description="how similar encounters were coded (a graph read)")

    @model_validator(mode="after")
    def _one_encounter(self) -> EvaluateIn:
        if (self.encounter_id is None) == (self.encounter is None):
            raise ValueError("give exactly one of encounter_id and encounter")
        return self


# ---- out ---------------------------------------------------------------------------------------------------
class GuidelineRef(BaseModel):
    section: str
    title: str
    fiscal_year: int
    statement: str
    node: str = Field(description="the Guideline node key")


class RuleRef(BaseModel):
    id: str = Field(description="the rule's node key (or, for an NCCI PTP row, release|setting|col1|col2|effective)")
    kind: str = Field(description="RuleCheck, NCCI PTP row, MUE, SeverityDesignation, PDXExclusionCollection, "
                                  "MSDRG, ModifierRule, PolicyRule, ProcedureMap, MapRule, MCE edit, Code")
    label: str | None = Field(default=None, description="the node label in the graph (null: not a node)")
    release: str | None = None
    source_file: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict, description="e.g. the effective window of an edit row")


class Alternative(BaseModel):
    changes: list[str]
    drg: str
    title: str | None
    severity: str
    weight: float | None
    expected_payment: float | None
    delta_weight: float | None
    delta_payment: float | None
    supported_by: list[str] = Field(description="the evidence that documents the change")


class Finding(BaseModel):
    family: Family
    check: str
    severity: Severity
    rule: RuleRef
    check_node: str | None = Field(default=None, description="the RuleCheck node key of the check (rules loaded)")
    guidelines: list[GuidelineRef] = Field(default_factory=list)
    cited: list[RuleRef] = Field(default_factory=list, description="further rule nodes (e.g. modifier rules)")
    codes: list[str] = Field(default_factory=list)
    lines: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    explanation: str
    needs_review: bool = False
    review_reason: str | None = None
    alternative: Alternative | None = None


class Verdict(BaseModel):
    status: Literal["pass", "warnings", "fail", "review"]
    findings: list[Finding]


class DrgNow(BaseModel):
    drg: str
    title: str | None
    mdc: str | None
    severity: str
    weight: float | None
    expected_payment: float | None
    grouper_version: str
    release: str
    return_code: str


class HistoryOut(BaseModel):
    criteria: str
    encounters: int
    assignments: int
    amended_encounters: int
    amendment_rate: float | None
    drg_up: int
    drg_down: int
    drg_same: int
    denial_rate: float | None = Field(default=None, description="null until remittances are loaded")
    note: str | None = None


class EvaluationOut(BaseModel):
    overall: Literal["accept", "accept_with_warnings", "review", "reject"]
    reasons: list[str]
    valid: Verdict
    compliant: Verdict
    supported: Verdict
    optimal: Verdict
    drg: DrgNow | None
    history: HistoryOut | None
    recommendations: list[str]
    releases: dict[str, str]
    notes: list[str]
    encounter_id: str | None = None
    assignment_id: str | None = None
    evaluation_id: str | None = Field(default=None, description="the stored Evaluation node, if stored")
