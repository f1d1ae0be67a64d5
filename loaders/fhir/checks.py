"""Checks beyond the FHIR schema: references resolve, codes use known systems in their shape, no future dates.

Each check appends located FhirIssues; codes that pass are appended to ``codes`` for the graph to confirm.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from loaders.fhir.code_systems import SYSTEM_LABELS, SYSTEM_NAMES, SYSTEM_URIS, code_shape_problem
from loaders.fhir.issues import FhirIssue, FhirLocation
from loaders.fhir.loaded import LoadedResource, ResourceIndex, date_floor, field_value, values_at
from loaders.fhir.records import CodeToCheck

# (element, target types it may point to, required here) per resource type.
REFERENCE_RULES: dict[str, tuple[tuple[str, frozenset[str], bool], ...]] = {
    "Encounter": (("subject", frozenset({"Patient"}), True),),
    "Condition": (("subject", frozenset({"Patient"}), True), ("encounter", frozenset({"Encounter"}), False)),
    "Procedure": (("subject", frozenset({"Patient"}), True), ("encounter", frozenset({"Encounter"}), False)),
    "Observation": (("subject", frozenset({"Patient"}), False), ("encounter", frozenset({"Encounter"}), False)),
    "DocumentReference": (
        ("subject", frozenset({"Patient"}), False),
        ("context.encounter", frozenset({"Encounter"}), False),
    ),
    "Coverage": (("beneficiary", frozenset({"Patient"}), True),),
}

# (element holding CodeableConcepts, must carry a coding). Every coding there must use a known system.
CODED_ELEMENTS: dict[str, tuple[tuple[str, bool], ...]] = {
    "Condition": (("code", True),),
    "Procedure": (("code", True), ("bodySite", False)),
    "Observation": (("code", True),),
    "DocumentReference": (("type", True),),
    "Encounter": (("type", False),),
}
# The records of these carry a LOINC code (lab test, note type), so one LOINC coding is required.
LOINC_REQUIRED = {"Observation": "code", "DocumentReference": "type"}

# Clinical dates that cannot lie after today (Coverage periods can, and are not listed).
DATE_ELEMENTS: dict[str, tuple[str, ...]] = {
    "Patient": ("birthDate",),
    "Encounter": ("period.start", "period.end"),
    "Condition": ("onsetDateTime", "onsetPeriod.start", "abatementDateTime", "recordedDate"),
    "Procedure": ("performedDateTime", "performedPeriod.start", "performedPeriod.end"),
    "Observation": ("effectiveDateTime", "effectivePeriod.start", "effectivePeriod.end", "effectiveInstant", "issued"),
    "DocumentReference": ("date", "context.period.start", "context.period.end"),
}

# Periods whose end may not lie before their start (FHIR's per-1 invariant), per resource type.
PERIOD_ELEMENTS: dict[str, tuple[str, ...]] = {
    "Encounter": ("period",),
    "Condition": ("onsetPeriod", "abatementPeriod"),
    "Procedure": ("performedPeriod",),
    "Observation": ("effectivePeriod",),
    "DocumentReference": ("context.period",),
    "Coverage": ("period",),
}


def check_resources(index: ResourceIndex, today: date, codes: list[CodeToCheck]) -> list[FhirIssue]:
    issues: list[FhirIssue] = []
    for loaded in index.resources:
        _check_references(loaded, index, issues)
        _check_codings(loaded, codes, issues)
        _check_dates(loaded, today, issues)
    return issues


def _check_references(loaded: LoadedResource, index: ResourceIndex, issues: list[FhirIssue]) -> None:
    for element, target_types, required in REFERENCE_RULES.get(loaded.type, ()):
        wanted = " or ".join(f"{'an' if t[0] in 'AEIOU' else 'a'} {t}" for t in sorted(target_types))
        found = values_at(loaded.model, element)
        if required and not found:
            issues.append(FhirIssue(loaded.location.child(element), f"a reference to {wanted}"))
        for path, reference in found:
            where = loaded.location.child(f"{path}.reference")
            if not reference.reference:
                issues.append(FhirIssue(where, f"a literal reference to {wanted} in this source"))
                continue
            target = index.resolve(reference)
            if target is None:
                issues.append(FhirIssue(where, f"a reference to {wanted} in this source", reference.reference))
            elif target.type not in target_types:
                issues.append(FhirIssue(where, f"a reference to {wanted}", target.key))
    _check_same_patient(loaded, index, issues)


def _check_same_patient(loaded: LoadedResource, index: ResourceIndex, issues: list[FhirIssue]) -> None:
    """A statement about an encounter must be about that encounter's patient."""
    subject = index.resolve(field_value(loaded.model, "subject"))
    if subject is None or loaded.type == "Encounter":
        return
    for element in ("encounter", "context.encounter"):
        for path, reference in values_at(loaded.model, element):
            encounter = index.resolve(reference)
            patient = index.resolve(encounter.model.subject) if encounter and encounter.type == "Encounter" else None
            if patient is not None and patient.key != subject.key:
                reason = f"an encounter of the resource's subject {subject.key}; it belongs to {patient.key}"
                issues.append(FhirIssue(loaded.location.child(f"{path}.reference"), reason, reference.reference))


def _check_codings(loaded: LoadedResource, codes: list[CodeToCheck], issues: list[FhirIssue]) -> None:
    for element, coding_required in CODED_ELEMENTS.get(loaded.type, ()):
        concepts = values_at(loaded.model, element)
        if coding_required and not any(cc.coding for _, cc in concepts):
            reason = "at least one coding (a text alone cannot be coded)"
            issues.append(FhirIssue(loaded.location.child(f"{element}.coding"), reason))
            continue
        system_uris = {c.system for _, cc in concepts for c in cc.coding or []}
        for path, concept in concepts:
            for j, coding in enumerate(concept.coding or []):
                where = loaded.location.child(f"{path}.coding[{j}]")
                name = _checked_coding(coding, where, issues)
                if name is not None:
                    codes.append(CodeToCheck(name, coding.code, where, loaded.key))  # type: ignore[arg-type]
        if LOINC_REQUIRED.get(loaded.type) == element and concepts and SYSTEM_URIS["loinc"] not in system_uris:
            issues.append(FhirIssue(loaded.location.child(f"{element}.coding"), "a LOINC coding (http://loinc.org)"))


def _checked_coding(coding: Any, where: FhirLocation, issues: list[FhirIssue]) -> str | None:
    """The coding's system name when its system is known and its code has that system's shape."""
    if not coding.system:
        issues.append(FhirIssue(where.child("system"), "a code system URI"))
        return None
    name = SYSTEM_NAMES.get(coding.system)
    if name is None:
        known = ", ".join(SYSTEM_NAMES)
        issues.append(FhirIssue(where.child("system"), f"one of the known code system URIs ({known})", coding.system))
        return None
    if not coding.code:
        issues.append(FhirIssue(where.child("code"), f"a {SYSTEM_LABELS[name]} code"))
        return None
    problem = code_shape_problem(name, coding.code)
    if problem is not None:
        issues.append(FhirIssue(where.child("code"), f"{problem} (system {coding.system})", coding.code))
        return None
    return name


def _check_dates(loaded: LoadedResource, today: date, issues: list[FhirIssue]) -> None:
    for element in DATE_ELEMENTS.get(loaded.type, ()):
        for path, value in values_at(loaded.model, element):
            if date_floor(value) > today:
                issues.append(FhirIssue(loaded.location.child(path), f"a date not after today ({today})", str(value)))
    for element in PERIOD_ELEMENTS.get(loaded.type, ()):
        for path, period in values_at(loaded.model, element):
            if not (period.start and period.end):
                continue
            start, end = period.start, period.end
            both_times = isinstance(start, datetime) and isinstance(end, datetime)
            if (end < start) if both_times else (date_floor(end) < date_floor(start)):
                issues.append(FhirIssue(loaded.location.child(f"{path}.end"), f"an end not before the start {start}",
                                        str(end)))
