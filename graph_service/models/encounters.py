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
