"""Code-set validation models."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from graph_service.models.base import RequestModel
from graph_service.models.shapes import IsoDate
from ontology.code_systems import SYSTEMS


def _known_system(v: str) -> str:
    if v.lower() not in SYSTEMS:
        raise ValueError(f"unknown code system {v!r}; known: {sorted(SYSTEMS)}")
    return v.lower()


# A code-system id the graph knows (icd10cm, icd10pcs, cpt, hcpcs, modifier, snomed), lower-cased.
# Published as a pattern naming each system in either case, which is what the validator takes.
SYSTEM_PATTERN = "^(" + "|".join("".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in s)
                                 for s in sorted(SYSTEMS)) + ")$"
SystemId = Annotated[str, Field(pattern=SYSTEM_PATTERN), AfterValidator(_known_system)]


class CodeIn(RequestModel):
    system: SystemId = Field(default="icd10cm", description="icd10cm, icd10pcs, cpt, hcpcs, modifier, snomed")
    code: str = Field(min_length=1, max_length=40)


EXAMPLE_VALIDATECODESIN: dict = {
    "codes": [
        {
            "system": "icd10cm",
            "code": "E11.9"
        },
        {
            "system": "icd10cm",
            "code": "E10.9"
        }
    ],
    "date_of_service": "2025-11-03"
}


class ValidateCodesIn(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_VALIDATECODESIN]})
    codes: list[CodeIn] = Field(min_length=1, max_length=500, description="in claim sequence order")
    date_of_service: IsoDate | None = Field(default=None, description="default: the latest visible release of each "
                                         "system (said in `release_used`)")
    release: str | None = Field(default=None, description="validate against this release instead of by date")


class CodeValidity(BaseModel):
    system: str
    code: str
    position: int = Field(default=0, description="the code's index in the request's `codes` (results keep it)")
    exists: bool
    billable: bool | None
    title: str | None = None
    valid_on_date: bool
    release: str | None
    reason: str | None = None


class Excludes1Conflict(BaseModel):
    code: str
    excluded: str = Field(description="the other code of the set that the note excludes")
    noted_on: str = Field(description="the code, category, section or chapter carrying the note")
    target: str = Field(description="the note's target (the excluded code or the category it opens)")
    note: str | None


class NoteRequirement(BaseModel):
    code: str
    kind: str = Field(description="CODE_FIRST or USE_ADDITIONAL")
    noted_on: str
    notes: list[str] = Field(description="the instruction's listed conditions (alternatives)")
    targets: list[str]
    met_by: list[str]
    sequenced_correctly: bool | None = Field(description="CODE_FIRST only: the etiology is sequenced first")
    condition: str | None = Field(default=None, description="'if applicable' (or 'if known', 'if present') when "
                                  "every listed alternative is conditional: not met, but not shown to be required")


class ValidateCodesOut(BaseModel):
    date_of_service: date | None
    releases: dict[str, str]
    release_used: dict[str, str] = Field(default={}, description="the release read per system: in force on the "
                                         "date of service, or without one the latest visible release")
    release_note: str | None = Field(default=None, description="set when no date of service was given")
    codes: list[CodeValidity]
    excludes1_conflicts: list[Excludes1Conflict]
    unmet_requirements: list[NoteRequirement]
    conditional_requirements: list[NoteRequirement] = Field(
        default=[], description="CODE_FIRST / USE_ADDITIONAL instructions written 'if applicable' that no code of "
        "the set meets: to check against the record, not an error")
    met_requirements: list[NoteRequirement]
