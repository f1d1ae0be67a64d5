"""A FHIR source loads whole or not at all: every problem is raised together, each naming file, place and reason."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from loaders.errors import ParseError, WrongFileError
from loaders.fhir.bundle import parse_fhir_source
from loaders.fhir.issues import FhirIssue, FhirValidationError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fhir"
INVALID = FIXTURES / "invalid"
INPATIENT = FIXTURES / "inpatient_heart_failure.json"
TODAY = date(2025, 6, 1)
# Entry indexes in inpatient_heart_failure.json.
PATIENT, ENCOUNTER, CHF, PROCEDURE, CREATININE, NOTE = 0, 3, 4, 8, 9, 12


def issues_of(path: Path, today: date = TODAY) -> tuple[FhirIssue, ...]:
    with pytest.raises(FhirValidationError) as raised:
        parse_fhir_source(path, today)
    return raised.value.issues


def only_issue(path: Path) -> FhirIssue:
    (issue,) = issues_of(path)
    return issue


def mutated(tmp_path: Path, change: Callable[[list[dict[str, Any]]], None]) -> Path:
    """The inpatient fixture with ``change`` applied to its entries' resources, written to tmp_path."""
    bundle = json.loads(INPATIENT.read_text())
    resources = [entry["resource"] for entry in bundle["entry"]]
    change(resources)
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(bundle))
    return path


def test_dangling_reference_names_entry_path_and_target() -> None:
    issue = only_issue(INVALID / "dangling_reference.json")
    assert issue.location.file.endswith("dangling_reference.json") and issue.location.entry == 2
    assert issue.location.path == "Bundle.entry[2].resource.encounter.reference"
    assert issue.reason == "a reference to an Encounter in this source"
    assert issue.found == "Encounter/enc-does-not-exist"


def test_pcs_code_under_the_icd10cm_uri_is_refused() -> None:
    issue = only_issue(INVALID / "pcs_code_under_icd10cm.json")
    assert issue.location.path == "Bundle.entry[2].resource.code.coding[0].code"
    assert "it looks like ICD-10-PCS" in issue.reason and issue.found == "5A1955Z"


def test_snomed_id_with_a_bad_check_digit_is_refused() -> None:
    issue = only_issue(INVALID / "bad_snomed_check_digit.json")
    assert issue.location.path == "Bundle.entry[2].resource.code.coding[0].code"
    assert "Verhoeff check digit (7 here)" in issue.reason and issue.found == "42343008"


def test_future_date_is_an_error_relative_to_the_given_today() -> None:
    issue = only_issue(INVALID / "future_date.json")
    assert issue.location.path == "Bundle.entry[2].resource.onsetDateTime"
    assert issue.reason == "a date not after today (2025-06-01)" and issue.found == "2031-01-15"
    assert parse_fhir_source(INVALID / "future_date.json", date(2031, 2, 1)).conditions[0].onset == date(2031, 1, 15)


def test_condition_with_only_text_is_refused() -> None:
    issue = only_issue(INVALID / "condition_without_coding.json")
    assert issue.location.path == "Bundle.entry[2].resource.code.coding"
    assert issue.reason.startswith("at least one coding")


def test_schema_and_reference_problems_of_all_entries_are_raised_together() -> None:
    path = INVALID / "schema_failure.json"
    with pytest.raises(FhirValidationError) as raised:
        parse_fhir_source(path, TODAY)
    found = [(i.location.path, i.found) for i in raised.value.issues]
    assert found == [
        ("Bundle.entry[2].resource.valueQuantity.value", "high"),
        ("Bundle.entry[2].resource.interpretationNote", "flagged"),  # not an R4 element
        ("Bundle.entry[3].resource.status", None),  # Encounter.status is required
        ("Bundle.entry[4].resource.subject.reference", "Patient/nobody"),
    ]
    error = raised.value
    assert isinstance(error, ParseError) and error.file == str(path)
    assert error.field == "Bundle.entry[2].resource.valueQuantity.value"  # the first issue, for ParseError readers
    assert str(error).startswith(f"4 problems in FHIR source {path}:")
    status_line = "schema_failure.json: Bundle.entry[3].resource.status: Value for the field 'status' is required."
    assert status_line in str(error).splitlines()[3]


def test_ndjson_problems_name_file_and_line() -> None:
    issues = issues_of(INVALID / "ndjson_bad_lines")
    assert [(Path(i.location.file).name, i.location.line, i.location.path) for i in issues] == [
        ("Condition.ndjson", 1, "Condition.resourceType"),
        ("Encounter.ndjson", 2, "Encounter"),
    ]
    assert issues[0].found == "Procedure"
    assert issues[1].reason.startswith("one JSON resource per line: Expecting value")


def test_r5_shaped_encounter_fails_r4_validation(tmp_path: Path) -> None:
    def to_r5(resources: list[dict[str, Any]]) -> None:
        encounter = resources[ENCOUNTER]
        encounter["class"] = [{"coding": [encounter["class"]]}]  # R5: class is a list of CodeableConcepts
        encounter["actualPeriod"] = encounter.pop("period")

    paths = {i.location.path for i in issues_of(mutated(tmp_path, to_r5))}
    assert {"Bundle.entry[3].resource.class", "Bundle.entry[3].resource.actualPeriod"} <= paths


def test_unknown_code_system_uri_is_refused(tmp_path: Path) -> None:
    def who_icd10(resources: list[dict[str, Any]]) -> None:
        resources[CHF]["code"]["coding"][1]["system"] = "http://hl7.org/fhir/sid/icd-10"

    issue = only_issue(mutated(tmp_path, who_icd10))
    assert issue.location.path == "Bundle.entry[4].resource.code.coding[1].system"
    assert (
        issue.reason.startswith("one of the known code system URIs") and issue.found == "http://hl7.org/fhir/sid/icd-10"
    )


def test_observation_without_loinc_is_refused(tmp_path: Path) -> None:
    def snomed_only(resources: list[dict[str, Any]]) -> None:
        resources[CREATININE]["code"]["coding"] = [{"system": "http://snomed.info/sct", "code": "70901006"}]

    issue = only_issue(mutated(tmp_path, snomed_only))
    assert (issue.location.path, issue.reason) == (
        "Bundle.entry[9].resource.code.coding",
        "a LOINC coding (http://loinc.org)",
    )


def test_reference_to_the_wrong_resource_type_is_refused(tmp_path: Path) -> None:
    def encounter_points_at_patient(resources: list[dict[str, Any]]) -> None:
        resources[PROCEDURE]["encounter"] = {"reference": "Patient/pt-hf-0001"}

    issue = only_issue(mutated(tmp_path, encounter_points_at_patient))
    assert issue.location.path == "Bundle.entry[8].resource.encounter.reference"
    assert (issue.reason, issue.found) == ("a reference to an Encounter", "Patient/pt-hf-0001")


def test_statement_about_another_patients_encounter_is_refused(tmp_path: Path) -> None:
    bundle = json.loads(INPATIENT.read_text())
    other = {**bundle["entry"][PATIENT]["resource"], "id": "pt-other"}
    bundle["entry"].append({"fullUrl": "urn:uuid:pt-other", "resource": other})
    bundle["entry"][CHF]["resource"]["subject"] = {"reference": "Patient/pt-other"}
    path = tmp_path / "two_patients.json"
    path.write_text(json.dumps(bundle))
    issue = only_issue(path)
    assert issue.location.path == "Bundle.entry[4].resource.encounter.reference"
    assert issue.reason.endswith("it belongs to Patient/pt-hf-0001")


def test_duplicate_resource_id_and_missing_encounter_subject_are_refused(tmp_path: Path) -> None:
    def break_ids(resources: list[dict[str, Any]]) -> None:
        resources[PROCEDURE]["id"] = "cond-hf-chf"
        resources[PROCEDURE]["resourceType"] = "Procedure"
        resources[CREATININE]["id"] = "obs-hf-glucose"
        del resources[ENCOUNTER]["subject"]

    issues = issues_of(mutated(tmp_path, break_ids))
    reasons = {(i.location.path, i.reason.split(" (")[0]) for i in issues}
    assert ("Bundle.entry[3].resource.subject", "a reference to a Patient") in reasons
    assert ("Bundle.entry[11].resource.id", "a resource key used once") in reasons  # glucose, after creatinine


def test_encounter_ending_before_it_starts_is_refused(tmp_path: Path) -> None:
    def reversed_period(resources: list[dict[str, Any]]) -> None:
        resources[ENCOUNTER]["period"]["end"] = "2024-02-01T08:00:00-05:00"

    issue = only_issue(mutated(tmp_path, reversed_period))
    assert issue.location.path == "Bundle.entry[3].resource.period.end"


def test_unknown_present_on_admission_value_is_refused(tmp_path: Path) -> None:
    def bad_poa(resources: list[dict[str, Any]]) -> None:
        resources[CHF]["extension"][0] = {"url": resources[CHF]["extension"][0]["url"], "valueCode": "maybe"}

    issue = only_issue(mutated(tmp_path, bad_poa))
    assert issue.location.path == "Bundle.entry[4].resource.extension[0]"
    assert (issue.reason, issue.found) == ("a present-on-admission indicator Y, N, U, W or 1", "maybe")


def test_note_annotation_with_a_malformed_code_names_the_note_line(tmp_path: Path) -> None:
    def bad_annotation(resources: list[dict[str, Any]]) -> None:
        attachment = resources[NOTE]["content"][0]["attachment"]
        text = base64.b64decode(attachment["data"]).decode().replace("[SNOMED:233604007]", "[SNOMED:233604008]")
        attachment["data"] = base64.b64encode(text.encode()).decode()

    issue = only_issue(mutated(tmp_path, bad_annotation))
    assert issue.location.path == "Bundle.entry[12].resource.content[0].attachment.data"
    assert issue.reason.startswith("note line 11: a SNOMED CT identifier ending in its Verhoeff check digit")


def test_document_without_inline_text_is_refused(tmp_path: Path) -> None:
    def url_only(resources: list[dict[str, Any]]) -> None:
        resources[NOTE]["content"][0]["attachment"] = {"contentType": "application/pdf", "url": "https://example.org/n"}

    issue = only_issue(mutated(tmp_path, url_only))
    assert issue.location.path == "Bundle.entry[12].resource.content"
    assert issue.reason.startswith("an attachment with inline base64 data and contentType text/*")


def test_a_single_resource_is_not_a_bundle(tmp_path: Path) -> None:
    path = tmp_path / "patient.json"
    path.write_text(json.dumps({"resourceType": "Patient", "id": "p"}))
    with pytest.raises(WrongFileError) as raised:
        parse_fhir_source(path, TODAY)
    assert (raised.value.field, raised.value.expected, raised.value.found) == (
        "resourceType",
        "a FHIR Bundle",
        "Patient",
    )


def test_history_bundle_is_the_wrong_kind_of_bundle(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "history", "entry": []}))
    with pytest.raises(WrongFileError, match=r"Bundle\.type"):
        parse_fhir_source(path, TODAY)


def test_truncated_bundle_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text(INPATIENT.read_text()[:2000])
    with pytest.raises(ParseError) as raised:
        parse_fhir_source(path, TODAY)
    assert raised.value.expected == "JSON" and raised.value.line is not None and raised.value.line > 50


def test_latin1_bundle_names_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"resourceType": "Bundle",\n "type": "collection",\n "id": "caf\xe9"}')
    with pytest.raises(ParseError) as raised:
        parse_fhir_source(path, TODAY)
    assert (raised.value.line, raised.value.expected) == (3, "UTF-8 text")


def test_directory_without_ndjson_and_a_lone_ndjson_file_are_wrong_inputs(tmp_path: Path) -> None:
    with pytest.raises(WrongFileError, match="NDJSON files named by resource type"):
        parse_fhir_source(tmp_path, TODAY)
    lone = FIXTURES / "outpatient_echo_ndjson" / "Patient.ndjson"
    with pytest.raises(WrongFileError, match="directory holding the NDJSON files"):
        parse_fhir_source(lone, TODAY)


def test_ndjson_file_not_named_by_a_resource_type_is_refused(tmp_path: Path) -> None:
    (tmp_path / "patients.ndjson").write_text(json.dumps({"resourceType": "Patient", "id": "p"}) + "\n")
    issues = issues_of(tmp_path)
    assert issues[0].location.path == "patients"
    assert issues[0].reason.startswith("a file named by an R4 resource type")
