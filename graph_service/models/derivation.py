"""SNOMED CT → ICD-10-CM derivation models: an encounter's findings and patient in, per map group a code out."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from graph_service.models.base import RequestModel
from graph_service.models.patient import AdministrativeGender, Age, age_from_birth_date
from graph_service.models.patient import AgeIn as AgeIn  # re-exported: callers build patients with it
from graph_service.models.shapes import ConceptId, IsoDate


class PatientIn(RequestModel):
    age: Age | None = Field(default=None, description="current age; rules on age need it (else needs_review)")
    age_at_onset: Age | None = Field(default=None, description="age at onset; default: the current age")
    birth_date: IsoDate | None = Field(default=None, description="instead of age: with the date of service (`date`)")
    sex: AdministrativeGender | None = Field(
        default=None, description="FHIR administrative gender; absent = not given (rules on sex then need review)")


class DeriveIcd10cmIn(RequestModel):
    model_config = ConfigDict(populate_by_name=True, json_schema_extra={"examples": [{
        "concepts": ["84114007"], "other_concepts": [], "date": "2025-11-03",
        "patient": {"age": {"value": 67, "unit": "years"}, "sex": "female"}}]})

    concepts: list[ConceptId] = Field(min_length=1, max_length=200, description="the encounter's findings to code")
    patient: PatientIn = Field(default_factory=PatientIn)
    other_concepts: list[ConceptId] = Field(
        default_factory=list, max_length=1000,
        description="the encounter's other concepts; with `concepts`, what IFA concept rules are checked against")
    release: str | None = Field(default=None, description="SNOMED CT release (20250301 or snomed@20250301)")
    icd10cm_release: str | None = Field(default=None, description="ICD-10-CM release for titles and billability")
    on: IsoDate | None = Field(default=None, alias="date",
                            description="date of service: the ICD-10-CM release in force then")

    @model_validator(mode="after")
    def _age_from_birth_date(self) -> DeriveIcd10cmIn:
        if self.patient.birth_date is not None and self.patient.age is None:
            if self.on is None:
                raise ValueError("patient.birth_date needs the date of service (`date`) to give an age")
            self.patient.age = age_from_birth_date(self.patient.birth_date, self.on)
        return self


class PathNode(BaseModel):
    node: str = Field(description="the concept id, MapRule id or ICD-10-CM code")
    label: str
    title: str | None = None
    rule: str | None = Field(default=None, description="a MapRule's mapRule text")

    @model_serializer(mode="wrap")
    def _without_empty_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {key: value for key, value in handler(self).items() if value is not None}


class PathRel(BaseModel):
    rel: str


PathStep = PathNode | PathRel


class RuleStep(BaseModel):
    """One map row as the evaluator read it, in priority order."""

    priority: int
    map_rule: str
    rule: str
    outcome: Literal["true", "false", "unknown", "unparseable"]
    why: str
    target: str | None


class UndecidedRow(BaseModel):
    priority: int
    map_rule: str
    rule: str
    target: str | None


class Icd10cmTarget(BaseModel):
    code: str
    title: str | None = Field(description="in the ICD-10-CM release in force; null when none is loaded")
    billable: bool | None
    in_release: bool | None = Field(description="the code is in that release (null: no ICD-10-CM release loaded)")


class MapGroupDerivation(BaseModel):
    group: int
    status: Literal["mapped", "no_target", "needs_review"]
    code: Icd10cmTarget | None
    advice: str | None
    answer: str | None = Field(default=None, description="no_target: what the map says instead of a code, e.g. "
                               "'… cannot be classified with the available data'")
    map_category: str | None = Field(default=None, description="the held row's map category (SNOMED CT concept id)")
    map_category_name: str | None = None
    map_rule: str | None = Field(description="the MapRule whose rule held")
    reason: str | None = Field(description="why the group needs review")
    warnings: list[str] = []
    explanation: list[RuleStep]
    undecided: list[UndecidedRow] = Field(description="needs_review: the rows a reviewer must decide between")
    path: list[PathStep] = Field(description="concept -HAS_MAP_RULE-> MapRule -MAPS_TO-> code, as in the graph")
    concept_paths: list[list[PathStep]] = Field(
        description="for each concept the winning rule asks about: the IS_A path from the encounter's concept")


class ConceptDerivation(BaseModel):
    concept: str
    found: bool
    preferred_term: str | None = None
    fsn: str | None = None
    active: bool | None = None
    reason: str | None = None
    groups: list[MapGroupDerivation] = []


class DeriveIcd10cmOut(BaseModel):
    release: str = Field(description="the SNOMED CT release read")
    icd10cm_release: str | None
    date_of_service: date | None
    patient: PatientIn
    other_concepts_not_found: list[str]
    concepts: list[ConceptDerivation]
