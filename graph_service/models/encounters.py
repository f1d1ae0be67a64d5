"""Encounter loading models: a FHIR Bundle in, what the graph now holds for each encounter out."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LoadedEncounter(BaseModel):
    id: str
    patient: str | None
    payer: str | None
    documents: list[str] = Field(description="ids of the encounter's clinical documents")
    evidence: list[str] = Field(description="evidence ids, for AssignedCodeIn.evidence when recording a coding")


class EncountersLoadedOut(BaseModel):
    release: str = Field(description="the batch release the bundle was loaded as (fhir@api-<digest>)")
    load_run: str
    encounters: list[LoadedEncounter]
    counts: dict[str, int] = Field(description="patients, encounters, documents, sections, evidence, … in the bundle")
    nodes_created: int = Field(description="0 when the same bundle was loaded before (the load is idempotent)")
    warnings: dict[str, int] = Field(
        description="codes only shape-checked (codes_not_checked_<system>: no release of the system is loaded) or "
        "checked against any loaded release (codes_checked_without_release_in_force_<system>)"
    )


class FhirIssueOut(BaseModel):
    """One located problem of a rejected bundle (sent in the 422 problem's ``issues``)."""

    entry: int | None = Field(description="index in Bundle.entry")
    path: str = Field(description="FHIRPath-like location, e.g. Bundle.entry[4].resource.code.coding[1].code")
    reason: str = Field(description="what was expected")
    found: str | None


class ShiftEvidence(BaseModel):
    evidence: str
    text: str | None
    section: str | None = Field(description="title of the document section the evidence is written in")


class ShiftedCode(BaseModel):
    code: str
    role: str
    poa: str | None
    evidence: list[ShiftEvidence] = Field(description="what supports the code (empty: nothing documents it)")


class DrgShiftRow(BaseModel):
    encounter: str
    payer: str | None
    coder: str = Field(description="coder of the newer version")
    coder_kind: str | None
    before_assignment: str = Field(description="the nearest earlier version that was grouped")
    before_drg: str | None
    before_weight: float | None
    before_payment: float | None
    after_assignment: str
    after_drg: str | None
    after_weight: float | None
    after_payment: float | None
    payment_delta: float = Field(description="after_payment - before_payment, in dollars (rounded to cents)")
    revised_at: str
    added: list[ShiftedCode] = Field(description="codes of the newer version the earlier one did not have")
    removed: list[ShiftedCode] = Field(description="codes of the earlier version the newer one dropped")


class DrgShiftPage(BaseModel):
    rows: list[DrgShiftRow] = Field(description="largest absolute payment change first; ties by after_assignment")
    limit: int = Field(description="page size used")
    next: str | None = Field(description="cursor of the next page (pass as cursor=…); null on the last page")
