"""Coverage question and answer: does this payer cover these procedures for these diagnoses on this date?"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from graph_service.models.base import RequestModel
from graph_service.models.shapes import IsoDate
from loaders.coverage.code_shapes import PROCEDURE_CODE
from loaders.icd10cm.codes import DOTTED_CODE, add_dot

CoverageStatus = Literal["covered", "not_covered", "no_policy", "needs_review"]
_CONTRACTOR = re.compile(r"[A-Z]{2}|\d{5}")


EXAMPLE_COVERAGEIN: dict = {
    "payer": "medicare",
    "contractor": "NY",
    "procedures": [
        "93306"
    ],
    "diagnoses": [
        "I50.22"
    ],
    "date_of_service": "2025-11-03"
}


# The code shapes the validators below take, published in the schema (either case; the validators upper-case).
ProcedureCodeIn = Annotated[str, Field(pattern=r"^([0-9]{4}[0-9FTUftu]|[A-Za-z][0-9]{4})$")]
DiagnosisCodeIn = Annotated[str, Field(pattern=r"^[A-Za-z][0-9A-Za-z]{2}(\.?[0-9A-Za-z]{1,4})?$")]


class CoverageIn(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_COVERAGEIN]})
    payer: str = Field(min_length=1, max_length=100, description="'medicare' or a commercial payer id")
    contractor: str | None = Field(
        default=None, validation_alias=AliasChoices("contractor", "jurisdiction"),
        description="Medicare only: a state (NY) or a MAC contractor number (90101); other payers ignore it",
    )
    plan: str | None = Field(default=None, max_length=100,
                             description="commercial payers: the plan id; policies limited to other plans are left out")
    procedures: list[ProcedureCodeIn] = Field(min_length=1, max_length=100, description="CPT or HCPCS Level II codes")
    diagnoses: list[DiagnosisCodeIn] = Field(default_factory=list, max_length=100,
                                             description="ICD-10-CM codes, dotted or not")
    date_of_service: IsoDate | None = Field(default=None, description="default: the latest visible ICD-10-CM release "
                                         "and the policies in force today (said in `release_used`, `warnings`)")

    @field_validator("procedures")
    @classmethod
    def _procedure_codes(cls, codes: list[str]) -> list[str]:
        out = [c.strip().upper() for c in codes]
        if bad := [c for c in out if not PROCEDURE_CODE.fullmatch(c)]:
            raise ValueError(f"not CPT/HCPCS codes (5 characters: 93306, 0042T, G0121): {bad}")
        return list(dict.fromkeys(out))

    @field_validator("diagnoses")
    @classmethod
    def _diagnosis_codes(cls, codes: list[str]) -> list[str]:
        out = [add_dot(c.strip().upper()) for c in codes]
        if bad := [c for c in out if not DOTTED_CODE.fullmatch(c)]:
            raise ValueError(f"not ICD-10-CM codes (a letter, two characters, optional .1-4: I50.22): {bad}")
        return list(dict.fromkeys(out))

    @field_validator("contractor")
    @classmethod
    def _contractor(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().upper()
        if not _CONTRACTOR.fullmatch(value):
            raise ValueError(f"{value!r} is neither a state abbreviation (NY) nor a contractor number (90101)")
        return value


class PolicyPath(BaseModel):
    """Where a decision comes from: payer, release, document and version, and the rule inside it."""

    payer: str
    release: str = Field(description="the load (snapshot) of the payer's documents read")
    document_id: str = Field(description="MCD article display id (A59001) or the payer's policy id")
    version: int
    title: str | None
    kind: Literal["mcd_article", "commercial"]
    rule_id: str = Field(description="hcpc-1/covered-1 (MCD group pair), hcpc-1/unpaired, or the policy id")
    hcpc_group: int | None = None
    covered_group: int | None = None
    effective_from: date
    effective_to: date | None = Field(description="last day in force (inclusive); null: still in force")
    status: str | None = None
    needs_review: bool
    review_reason: str | None = None
    contractors: list[str] = Field(default_factory=list, description="MAC contractor numbers (MCD)")
    jurisdictions: list[str] = Field(default_factory=list, description="states of those contractors (MCD)")
    plans: list[str] | None = Field(default=None, description="plans the policy is limited to; null: every plan")


class DiagnosisMatch(BaseModel):
    """A diagnosis of the claim found on a rule's covered or non-covered list, and how."""

    diagnosis: str
    listed_code: str = Field(description="the code the rule's edge points at")
    listed_as: str = Field(description="how the source lists it: 'covered group 1', 'I50 and below', 'I48.0-I48.21'")
    scope: Literal["code", "descendants"]
    via: Literal["exact", "ancestor"] = Field(description="ancestor: the rule lists a category above the diagnosis")
    hierarchy: str | None = Field(default=None, description="how the ancestor was found (IS_A of a release, or code "
                                                           "prefix when no ICD-10-CM hierarchy is in force)")
    group: int | None = None
    paired: bool = Field(description="false: the article does not say which procedures this group supports")
    asterisk: bool = False
    note: str | None = Field(default=None, description="the group's asterisk text or the payer's note")
    policy: PolicyPath


class ProcedureCoverage(BaseModel):
    procedure: str
    system: Literal["cpt", "hcpcs"]
    status: CoverageStatus
    reason: str
    supporting_diagnosis: str | None = None
    match: DiagnosisMatch | None = Field(default=None, description="the match that decided the status")
    policy: PolicyPath | None = Field(default=None, description="the rule that decided the status")
    supports: list[DiagnosisMatch] = Field(default_factory=list, description="every covering match found")
    denials: list[DiagnosisMatch] = Field(default_factory=list, description="every explicit denial found")
    policies_considered: list[PolicyPath] = Field(default_factory=list,
                                                  description="rules in force on the date that govern the procedure")
    prior_authorization: bool | None = None
    prior_authorization_notes: str | None = None
    frequency_limits: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class CoverageOut(BaseModel):
    payer: str
    payer_name: str
    release_used: dict[str, str] = Field(default={}, description="the release read per source (icd10cm, "
                                         "payer_rules); without a date of service, the latest visible one")
    release: str
    date_of_service: date
    contractor: str | None
    plan: str | None
    diagnoses: list[str]
    icd10cm_release: str | None = Field(description="the ICD-10-CM release in force on the date, if loaded")
    warnings: list[str] = Field(default_factory=list)
    results: list[ProcedureCoverage]
