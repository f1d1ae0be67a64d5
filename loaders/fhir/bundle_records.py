"""Turning validated FHIR resources into the graph's records.

Present on admission: FHIR R4 Condition has no POA element (it lives on Claim.diagnosis.onAdmission).
We read it from a Condition extension whose url contains 'present-on-admission' (any publisher), its
value a code, Coding or CodeableConcept in the Claim onAdmission style (y/n/u/w) or the CMS letters
(Y, N, U, W, 1), or a boolean (true = Y). Any other value is an error.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from loaders.fhir.code_systems import SYSTEM_NAMES, code_shape_problem
from loaders.fhir.evidence import Statement, note_mentions, statement_evidence
from loaders.fhir.issues import FhirIssue, FhirLocation
from loaders.fhir.loaded import LoadedResource, ResourceIndex, date_floor, values_at
from loaders.fhir.notes import annotations, line_at, split_sections
from loaders.fhir.records import (
    CodeToCheck,
    Coding,
    ConditionRecord,
    DocumentRecord,
    EncounterBundle,
    EncounterRecord,
    EvidenceRecord,
    ObservationRecord,
    PatientRecord,
    ProcedureRecord,
)

POA_INDICATORS = frozenset({"Y", "N", "U", "W", "1"})


def build_encounter_bundle(index: ResourceIndex, codes: list[CodeToCheck], issues: list[FhirIssue]) -> EncounterBundle:
    """Records for every resource the graph uses; other resource types (Organization, ...) only resolve references."""
    patients = tuple(_patient(r) for r in index.of_type("Patient"))
    coverages = _active_coverages(index)
    encounters = tuple(_encounter(r, index, coverages) for r in index.of_type("Encounter"))
    conditions = tuple(_condition(r, index, issues) for r in index.of_type("Condition"))
    procedures = tuple(_procedure(r, index) for r in index.of_type("Procedure"))
    observations = tuple(_observation(r, index) for r in index.of_type("Observation"))
    documents = tuple(d for r in index.of_type("DocumentReference") if (d := _document(r, index, codes, issues)))

    statements = [_statement("condition", r, index) for r in index.of_type("Condition")]
    statements += [_statement("procedure", r, index) for r in index.of_type("Procedure")]
    statements += [
        _observation_statement(r, o) for r, o in zip(index.of_type("Observation"), observations, strict=True)
    ]
    # Notes and statements meet only within an encounter: grouped once, so a source's mentions cost per encounter.
    documents_of: dict[str | None, list[DocumentRecord]] = defaultdict(list)
    statements_of: dict[str | None, list[Statement]] = defaultdict(list)
    for document in documents:
        documents_of[document.encounter_id].append(document)
    for statement in statements:
        statements_of[statement.encounter_id].append(statement)
    evidence: dict[str, EvidenceRecord] = {}  # by id: the same mention found twice is one piece of evidence
    for statement in statements:
        evidence.update((e.id, e) for e in statement_evidence(statement, documents_of.get(statement.encounter_id, [])))
    for document in documents:
        evidence.update((e.id, e) for e in note_mentions(document, statements_of.get(document.encounter_id, [])))
    return EncounterBundle(
        patients, encounters, conditions, procedures, observations, documents, tuple(evidence.values()), tuple(codes)
    )


def _patient(loaded: LoadedResource) -> PatientRecord:
    return PatientRecord(loaded.id, loaded.model.birthDate, loaded.model.gender)


def _encounter(loaded: LoadedResource, index: ResourceIndex, coverages: dict[str, list[Any]]) -> EncounterRecord:
    model = loaded.model
    patient = index.resolve(model.subject)
    start = model.period.start if model.period else None
    birth = patient.model.birthDate if patient and patient.type == "Patient" else None
    years = days = None
    if start is not None and isinstance(birth, date):  # a partial birth date (a string) gives no age
        admitted = date_floor(start)
        days = (admitted - birth).days
        years = admitted.year - birth.year - ((admitted.month, admitted.day) < (birth.month, birth.day))
    disposition = model.hospitalization.dischargeDisposition if model.hospitalization else None
    return EncounterRecord(
        id=loaded.id,
        patient_id=patient.id if patient else "",
        class_code=model.class_fhir.code if model.class_fhir else None,
        type_codes=_codings(values_at(model, "type")),
        period_start=start,
        period_end=model.period.end if model.period else None,
        discharge_disposition=_first_code(disposition),
        payer_id=_payer_id(coverages.get(patient.key, []), start, index) if patient else None,
        age_years_at_admission=years,
        age_days_at_admission=days,
    )


def _active_coverages(index: ResourceIndex) -> dict[str, list[Any]]:
    """The active Coverage models by their beneficiary's key, in source order (grouped once per source: a scan
    of every Coverage per encounter made a shard's parse quadratic)."""
    by_beneficiary: dict[str, list[Any]] = {}
    for coverage in index.of_type("Coverage"):
        model = coverage.model
        beneficiary = index.resolve(model.beneficiary)
        if beneficiary is not None and model.status == "active":
            by_beneficiary.setdefault(beneficiary.key, []).append(model)
    return by_beneficiary


def _payer_id(coverages: list[Any], admitted: Any, index: ResourceIndex) -> str | None:
    """The payer of the patient's active Coverage in force at admission, lowest Coverage.order first."""
    candidates = [m for m in coverages
                  if admitted is None or m.period is None or _covers(m.period, date_floor(admitted))]
    for model in sorted(candidates, key=lambda m: m.order if m.order is not None else 1 << 30):
        for payor in model.payor or []:
            organization = index.resolve(payor)
            org_identifier = (organization.model.identifier or [None])[0] if organization else None
            for value in (payor.identifier.value if payor.identifier else None, payor.display, org_identifier):
                if value is not None:
                    return value if isinstance(value, str) else value.value
    return None


def _covers(period: Any, day: date) -> bool:
    return (period.start is None or date_floor(period.start) <= day) and (
        period.end is None or day <= date_floor(period.end)
    )


def _condition(loaded: LoadedResource, index: ResourceIndex, issues: list[FhirIssue]) -> ConditionRecord:
    model = loaded.model
    notes = [n.text for n in model.note or [] if n.text]
    return ConditionRecord(
        id=loaded.id,
        encounter_id=_target_id(index, model.encounter),
        codings=_codings(values_at(model, "code")),
        onset=model.onsetDateTime or (model.onsetPeriod.start if model.onsetPeriod else None),
        category=_first_code(model.category[0]) if model.category else None,
        present_on_admission=_present_on_admission(loaded, issues),
        evidence_text="\n".join(notes) or None,
    )


def _present_on_admission(loaded: LoadedResource, issues: list[FhirIssue]) -> str | None:
    for i, extension in enumerate(loaded.model.extension or []):
        if "present-on-admission" not in (extension.url or "").lower():
            continue
        value: Any = extension.valueCode or extension.valueString
        if extension.valueCoding is not None:
            value = extension.valueCoding.code
        elif extension.valueCodeableConcept is not None:
            value = _first_code(extension.valueCodeableConcept)
        elif extension.valueBoolean is not None:
            value = "Y" if extension.valueBoolean else "N"
        indicator = str(value).upper()
        if indicator not in POA_INDICATORS:
            reason = "a present-on-admission indicator Y, N, U, W or 1"
            issues.append(FhirIssue(loaded.location.child(f"extension[{i}]"), reason, str(value)))
            return None
        return indicator
    return None


def _procedure(loaded: LoadedResource, index: ResourceIndex) -> ProcedureRecord:
    model = loaded.model
    return ProcedureRecord(
        id=loaded.id,
        encounter_id=_target_id(index, model.encounter),
        codings=_codings(values_at(model, "code")),
        performed=model.performedDateTime or (model.performedPeriod.start if model.performedPeriod else None),
        body_site=_codings(values_at(model, "bodySite")),
    )


def _observation(loaded: LoadedResource, index: ResourceIndex) -> ObservationRecord:
    model = loaded.model
    value: Any = next((v for v in (model.valueString, model.valueBoolean, model.valueInteger) if v is not None), None)
    unit = None
    if model.valueQuantity is not None:
        value, unit = model.valueQuantity.value, model.valueQuantity.code or model.valueQuantity.unit
    elif model.valueCodeableConcept is not None:
        value = _first_code(model.valueCodeableConcept) or model.valueCodeableConcept.text
    loinc = next((c.code for c in _codings(values_at(model, "code")) if c.system_name == "loinc"), "")
    interpretation = _first_code(model.interpretation[0]) if model.interpretation else None
    effective = (
        model.effectiveDateTime
        or model.effectiveInstant
        or (model.effectivePeriod.start if model.effectivePeriod else None)
    )
    return ObservationRecord(
        loaded.id, _target_id(index, model.encounter), loinc, value, unit, interpretation, effective
    )


def _document(
    loaded: LoadedResource, index: ResourceIndex, codes: list[CodeToCheck], issues: list[FhirIssue]
) -> DocumentRecord | None:
    model = loaded.model
    for k, content in enumerate(model.content):
        attachment = content.attachment
        content_type = attachment.contentType or ""
        if attachment.data is None or not content_type.startswith("text/"):
            continue
        where = loaded.location.child(f"content[{k}].attachment.data")
        charset = content_type.partition("charset=")[2].split(";")[0].strip() or "utf-8"
        try:
            text = attachment.data.decode(charset).replace("\r\n", "\n")
        except (UnicodeDecodeError, LookupError) as err:
            issues.append(FhirIssue(where, f"note text in charset {charset}", str(err)))
            return None
        _check_annotations(text, where, loaded.key, codes, issues)
        note_type = next((c.code for c in _codings(values_at(model, "type")) if c.system_name == "loinc"), "")
        encounters = values_at(model, "context.encounter")
        encounter_id = _target_id(index, encounters[0][1]) if encounters else None
        return DocumentRecord(loaded.id, encounter_id, note_type, text, split_sections(text))
    reason = "an attachment with inline base64 data and contentType text/* (urls are not fetched)"
    issues.append(FhirIssue(loaded.location.child("content"), reason))
    return None


def _check_annotations(text: str, where: FhirLocation, resource: str, codes: list[CodeToCheck],
                       issues: list[FhirIssue]) -> None:
    for annotation in annotations(text):
        problem = code_shape_problem(annotation.system_name, annotation.code)
        if problem is None:
            codes.append(CodeToCheck(annotation.system_name, annotation.code, where, resource))
        else:
            line_number, _ = line_at(text, annotation.offset)
            issues.append(FhirIssue(where, f"note line {line_number}: {problem}", annotation.code))


def _statement(kind: Any, loaded: LoadedResource, index: ResourceIndex) -> Statement:
    model = loaded.model
    codings = _codings(values_at(model, "code"))
    names = tuple(n for n in (model.code.text if model.code else None, *(c.display for c in codings)) if n)
    text = names[0] if names else ", ".join(c.code for c in codings)
    return Statement(kind, loaded.key, _target_id(index, model.encounter), codings, names, text)


def _observation_statement(loaded: LoadedResource, record: ObservationRecord) -> Statement:
    codings = _codings(values_at(loaded.model, "code"))
    name = loaded.model.code.text or next((c.display for c in codings if c.display), record.loinc)
    value = f"{record.value} {record.unit or ''}".strip() if record.value is not None else "no value"
    return Statement("observation", loaded.key, record.encounter_id, codings, (), f"{name}: {value}")


def _codings(concepts: Iterable[tuple[str, Any]]) -> tuple[Coding, ...]:
    """The codings in known systems (the others were reported by the checks)."""
    return tuple(
        Coding(SYSTEM_NAMES[c.system], c.code, c.display)  # type: ignore[arg-type]
        for _, concept in concepts
        for c in concept.coding or []
        if c.system in SYSTEM_NAMES and c.code
    )


def _first_code(concept: Any) -> str | None:
    codes = [c.code for c in (concept.coding or []) if c.code] if concept is not None else []
    return codes[0] if codes else None


def _target_id(index: ResourceIndex, reference: Any) -> str | None:
    target = index.resolve(reference)
    return target.id if target else None
