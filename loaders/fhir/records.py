"""Typed records a FHIR source becomes, ready for the graph writer. No personal data beyond what coding needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from loaders.fhir.issues import FhirLocation

# A FHIR date or dateTime; a string only for a partial date such as "2024" or "2024-03".
FhirTime = date | datetime | str
SystemName = Literal["icd10cm", "icd10pcs", "cpt", "hcpcs", "snomed", "loinc"]
EvidenceKind = Literal["condition", "procedure", "observation", "note_mention"]


@dataclass(frozen=True, slots=True)
class Coding:
    system_name: SystemName
    code: str
    display: str | None


@dataclass(frozen=True, slots=True)
class Concept:
    """A code in a system, without display: what a piece of evidence is about."""

    system_name: SystemName
    code: str


@dataclass(frozen=True, slots=True)
class CodeToCheck:
    """A code whose shape is right; whether it exists in its system is for the graph to say."""

    system_name: SystemName
    code: str
    location: FhirLocation
    resource: str | None = None  # ``Type/id`` of the resource it is in: its encounter dates the check


@dataclass(frozen=True, slots=True)
class PatientRecord:
    id: str  # the FHIR id, taken as pseudonymous; names, addresses and identifiers are not read
    birth_date: FhirTime | None
    sex: str | None  # administrative gender: male, female, other, unknown


@dataclass(frozen=True, slots=True)
class EncounterRecord:
    id: str
    patient_id: str
    class_code: str | None  # v3 ActCode: IMP, AMB, EMER, ...
    type_codes: tuple[Coding, ...]
    period_start: FhirTime | None
    period_end: FhirTime | None
    discharge_disposition: str | None  # code of hospitalization.dischargeDisposition
    payer_id: str | None  # Coverage.payor identifier value, else its display
    age_years_at_admission: int | None  # None without a full birth date and a period start
    age_days_at_admission: int | None


@dataclass(frozen=True, slots=True)
class ConditionRecord:
    id: str
    encounter_id: str | None
    codings: tuple[Coding, ...]
    onset: FhirTime | None
    category: str | None  # first category code: encounter-diagnosis, problem-list-item, ...
    present_on_admission: str | None  # CMS POA indicator Y, N, U, W or 1; see bundle_records for the source
    evidence_text: str | None  # Condition.note texts, joined by newlines


@dataclass(frozen=True, slots=True)
class ProcedureRecord:
    id: str
    encounter_id: str | None
    codings: tuple[Coding, ...]
    performed: FhirTime | None  # performedDateTime, or the start of performedPeriod
    body_site: tuple[Coding, ...]


@dataclass(frozen=True, slots=True)
class ObservationRecord:
    id: str
    encounter_id: str | None
    loinc: str
    value: Decimal | str | bool | int | None  # quantity value, string, boolean, integer or a coded value's code
    unit: str | None  # UCUM code of the quantity, else its unit text
    interpretation: str | None  # first interpretation code: H, L, N, ...
    effective: FhirTime | None


@dataclass(frozen=True, slots=True)
class DocumentSection:
    title: str  # heading without its colon; "" for text before the first heading
    text: str  # the body, stripped; DocumentRecord.text[start_offset:start_offset + len(text)] == text
    start_offset: int


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    id: str
    encounter_id: str | None
    note_type: str  # LOINC document type, e.g. 18842-5 discharge summary
    text: str  # the decoded attachment, line endings normalised to \n
    sections: tuple[DocumentSection, ...]


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    id: str
    encounter_id: str | None
    kind: EvidenceKind
    source_resource: str  # Type/id of the statement or of the note
    concept: Concept
    document_id: str | None
    section_title: str | None
    text: str


@dataclass(frozen=True, slots=True)
class EncounterBundle:
    """Everything one FHIR source says, as records; ``codes_to_check`` lists every code with its location."""

    patients: tuple[PatientRecord, ...]
    encounters: tuple[EncounterRecord, ...]
    conditions: tuple[ConditionRecord, ...]
    procedures: tuple[ProcedureRecord, ...]
    observations: tuple[ObservationRecord, ...]
    documents: tuple[DocumentRecord, ...]
    evidence: tuple[EvidenceRecord, ...]
    codes_to_check: tuple[CodeToCheck, ...]
    folded: int = 0  # identical repeats of a resource dropped (counted in the run's report)
