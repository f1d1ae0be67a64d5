"""Reading a FHIR R4 source — a Bundle JSON file or a directory of NDJSON files — into validated models.

Models come from ``fhir.resources.R4B`` (FHIR 4.3.0): fhir.resources 8.x defaults to R5 and ships no
plain R4 package; R4B leaves the resources read here (Patient, Encounter, Condition, Procedure,
Observation, DocumentReference, Coverage) as they were in R4, so R4 data validates against it.
A source loads whole or not at all: every problem is collected, then raised as one FhirValidationError.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from loaders.errors import ParseError, WrongFileError
from loaders.fhir.bundle_records import build_encounter_bundle
from loaders.fhir.checks import check_resources
from loaders.fhir.issues import FhirIssue, FhirLocation, FhirValidationError
from loaders.fhir.loaded import LoadedResource, ResourceIndex
from loaders.fhir.records import CodeToCheck, EncounterBundle
from loaders.input_checks import check_file_size
from loaders.text_lines import decoded_lines

# Bundles that carry resources to load; history and *-response bundles describe operations instead.
LOADABLE_BUNDLE_TYPES = frozenset({"collection", "transaction", "batch", "searchset", "document"})
# A Bundle is parsed whole (JSON has no streaming form here), so its size is capped before a byte is read.
# One patient's encounter bundle with its notes is a few MB at most; bigger sources come as NDJSON, whose
# files are streamed line by line (each line under text_lines' cap), so they have no file cap.
MAX_SOURCE_FILE_BYTES = 32 << 20


def parse_fhir_source(path: Path, today: date) -> EncounterBundle:
    """Read, validate and turn into records a Bundle file or NDJSON directory; dates after ``today`` are errors."""
    resources, issues = read_fhir_source(path)
    index = ResourceIndex(resources)
    issues += index.duplicate_issues
    if not index.resources and not issues:
        # A source with nothing in it would publish an empty release.
        where = FhirLocation(str(path), None, None, "Bundle.entry" if path.is_file() else "")
        issues.append(FhirIssue(where, "at least one resource (the source holds none)"))
    codes: list[CodeToCheck] = []
    issues += check_resources(index, today, codes)
    encounter_bundle = build_encounter_bundle(index, codes, issues)
    if issues:
        issues.sort(key=lambda i: (i.location.file, i.location.line or 0, i.location.entry or 0))
        raise FhirValidationError(path, issues)
    return replace(encounter_bundle, folded=index.folded) if index.folded else encounter_bundle


def read_fhir_source(path: Path) -> tuple[list[LoadedResource], list[FhirIssue]]:
    """Every schema-valid resource of ``path`` and every schema problem found; unreadable files raise."""
    if path.is_dir():
        return _read_ndjson_directory(path)
    if not path.is_file():
        raise ParseError(path, None, None, "a Bundle JSON file or a directory of NDJSON files", "nothing there")
    if path.suffix == ".ndjson":
        raise WrongFileError(path, None, None, "a Bundle JSON file, or the directory holding the NDJSON files")
    return _read_bundle(path)


def _read_bundle(path: Path) -> tuple[list[LoadedResource], list[FhirIssue]]:
    check_file_size(path, MAX_SOURCE_FILE_BYTES, "FHIR Bundle JSON file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ParseError(path, line, None, "UTF-8 text", repr(raw[err.start : err.end + 10])) from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ParseError(path, err.lineno, None, "JSON", f"{err.msg} at column {err.colno}") from err
    found_type = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
    if found_type != "Bundle":
        raise WrongFileError(path, None, "resourceType", "a FHIR Bundle", str(found_type))
    if data.get("type") not in LOADABLE_BUNDLE_TYPES:
        raise WrongFileError(
            path, None, "Bundle.type", f"one of {sorted(LOADABLE_BUNDLE_TYPES)}", str(data.get("type"))
        )

    entries = data.get("entry") if isinstance(data.get("entry"), list) else []
    # The envelope is validated without its resources so that each resource's errors are reported once, below.
    envelope = {**data, "entry": [_without_resource(e) for e in entries]} if entries else data
    issues = _schema_issues(Bundle, envelope, FhirLocation(str(path), None, None, "Bundle"))
    resources: list[LoadedResource] = []
    for i, entry in enumerate(entries):
        where = FhirLocation(str(path), None, i, f"Bundle.entry[{i}].resource")
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            issues.append(FhirIssue(where, "a resource in every entry"))
            continue
        full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
        loaded = _validate_resource(entry["resource"], where, full_url, issues)
        if loaded is not None:
            resources.append(loaded)
    return resources, issues


def _without_resource(entry: Any) -> Any:
    return {k: v for k, v in entry.items() if k != "resource"} if isinstance(entry, dict) else entry


def _read_ndjson_directory(path: Path) -> tuple[list[LoadedResource], list[FhirIssue]]:
    files = sorted(path.glob("*.ndjson"))
    if not files:
        raise WrongFileError(path, None, None, "NDJSON files named by resource type (Patient.ndjson, ...)", "none")
    resources: list[LoadedResource] = []
    issues: list[FhirIssue] = []
    for file in files:
        expected_type = file.name.split(".")[0]  # Bulk Data exports may number files: Observation.000.ndjson
        try:
            get_fhir_model_class(expected_type)
        except ValueError:
            where = FhirLocation(str(file), None, None, expected_type)
            issues.append(FhirIssue(where, "a file named by an R4 resource type, e.g. Encounter.ndjson"))
        for line in decoded_lines(file):
            if not line.text.strip():
                continue
            where = FhirLocation(str(file), line.number, None, expected_type)
            try:
                data = json.loads(line.text)
            except json.JSONDecodeError as err:
                issues.append(FhirIssue(where, f"one JSON resource per line: {err.msg} at column {err.colno}"))
                continue
            found_type = data.get("resourceType") if isinstance(data, dict) else None
            if found_type != expected_type:
                issues.append(
                    FhirIssue(where.child("resourceType"), f"a {expected_type}, as the file name says", str(found_type))
                )
                continue
            loaded = _validate_resource(data, where, None, issues)
            if loaded is not None:
                resources.append(loaded)
    return resources, issues


def _validate_resource(
    data: dict[str, Any], where: FhirLocation, full_url: str | None, issues: list[FhirIssue]
) -> LoadedResource | None:
    resource_type = data.get("resourceType")
    try:
        model_class = get_fhir_model_class(str(resource_type))
    except ValueError:
        issues.append(FhirIssue(where.child("resourceType"), "an R4 resource type", str(resource_type)))
        return None
    try:
        model = model_class.model_validate(data)
    except ValidationError as err:
        issues += [_schema_issue(e, where) for e in err.errors()]
        return None
    return LoadedResource(model, where, full_url)


def _schema_issues(model_class: Any, data: Any, where: FhirLocation) -> list[FhirIssue]:
    try:
        model_class.model_validate(data)
    except ValidationError as err:
        return [_schema_issue(e, where) for e in err.errors()]
    return []


def _schema_issue(error: Any, where: FhirLocation) -> FhirIssue:
    path = ""
    for part in error["loc"]:
        if part == "root":  # pydantic's name for a root model's value, not a FHIR element
            continue
        path += f"[{part}]" if isinstance(part, int) else f".{_fhir_name(str(part))}"
    reason = " ".join(str(error["msg"]).removeprefix("Value error, ").split())
    value = error.get("input")
    found = str(value)[:80] if isinstance(value, str | int | float | bool) else None
    return FhirIssue(where.child(path.removeprefix(".")), reason, found)


def _fhir_name(field: str) -> str:
    """fhir.resources' Python field name back to the FHIR element name."""
    if field == "resource_type":
        return "resourceType"
    if field.endswith("__ext"):  # a primitive's extension, ``_birthDate`` in JSON
        return "_" + field.removesuffix("__ext")
    return field.removesuffix("_fhir")
