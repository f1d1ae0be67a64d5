"""A valid inpatient Bundle and an outpatient NDJSON directory become the records the graph needs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from loaders.fhir.bundle import parse_fhir_source
from loaders.fhir.records import Coding, Concept, EncounterBundle

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fhir"
INPATIENT = FIXTURES / "inpatient_heart_failure.json"
OUTPATIENT = FIXTURES / "outpatient_echo_ndjson"
TODAY = date(2025, 6, 1)


@pytest.fixture(scope="module")
def inpatient() -> EncounterBundle:
    return parse_fhir_source(INPATIENT, TODAY)


@pytest.fixture(scope="module")
def outpatient() -> EncounterBundle:
    return parse_fhir_source(OUTPATIENT, TODAY)


def test_inpatient_encounter_has_class_disposition_payer_and_age(inpatient: EncounterBundle) -> None:
    (encounter,) = inpatient.encounters
    assert (encounter.id, encounter.patient_id, encounter.class_code) == ("enc-hf-0001", "pt-hf-0001", "IMP")
    assert encounter.discharge_disposition == "06"
    assert encounter.payer_id == "MEDICARE-A"  # the active Coverage, not the cancelled one
    assert encounter.age_years_at_admission == 72  # born 1951-06-14, admitted 2024-02-03
    assert encounter.age_days_at_admission == (date(2024, 2, 3) - date(1951, 6, 14)).days
    assert encounter.type_codes == (Coding("snomed", "32485007", "Hospital admission"),)


def test_patient_record_keeps_only_id_birth_date_and_sex(inpatient: EncounterBundle) -> None:
    assert [(p.id, p.birth_date, p.sex) for p in inpatient.patients] == [("pt-hf-0001", date(1951, 6, 14), "female")]


def test_conditions_carry_snomed_and_icd10cm_codings_with_poa(inpatient: EncounterBundle) -> None:
    by_id = {c.id: c for c in inpatient.conditions}
    chf = by_id["cond-hf-chf"]
    assert [(c.system_name, c.code) for c in chf.codings] == [("snomed", "42343007"), ("icd10cm", "I50.23")]
    assert chf.encounter_id == "enc-hf-0001" and chf.category == "encounter-diagnosis"
    assert chf.evidence_text is not None and "NT-proBNP" in chf.evidence_text
    # POA given as a Claim-style CodeableConcept (y/n), a CMS letter code and a boolean.
    poa = {cid: c.present_on_admission for cid, c in by_id.items()}
    assert poa == {"cond-hf-chf": "Y", "cond-hf-dm2": "Y", "cond-hf-ckd": "Y", "cond-hf-pna": "N"}
    assert by_id["cond-hf-ckd"].onset == "2019-05"  # a partial date stays partial


def test_procedure_has_pcs_code_period_start_and_body_site(inpatient: EncounterBundle) -> None:
    (vent,) = inpatient.procedures
    assert vent.codings[0] == Coding(
        "icd10pcs", "5A1955Z", "Respiratory Ventilation, Greater than 96 Consecutive Hours"
    )
    assert vent.performed is not None and vent.performed.isoformat() == "2024-02-05T22:00:00-05:00"
    assert [c.code for c in vent.body_site] == ["39607008"]


def test_observations_have_loinc_value_unit_and_interpretation(inpatient: EncounterBundle) -> None:
    labs = {o.loinc: (o.value, o.unit, o.interpretation) for o in inpatient.observations}
    assert labs == {
        "2160-0": (Decimal("2.1"), "mg/dL", "H"),
        "33762-6": (Decimal("8450"), "pg/mL", "H"),
        "2345-7": (Decimal("182"), "mg/dL", "H"),
    }


def test_discharge_summary_is_decoded_and_split_into_sections(inpatient: EncounterBundle) -> None:
    (note,) = inpatient.documents
    assert (note.note_type, note.encounter_id) == ("18842-5", "enc-hf-0001")
    assert note.text.startswith("DISCHARGE SUMMARY\n")
    titles = [s.title for s in note.sections]
    assert titles == ["", "HISTORY OF PRESENT ILLNESS", "Hospital Course", "Discharge Diagnoses", "Assessment and Plan"]
    assert all(note.text[s.start_offset : s.start_offset + len(s.text)] == s.text for s in note.sections)


def test_each_condition_coding_is_evidence_linked_to_the_section_naming_it(inpatient: EncounterBundle) -> None:
    statements = {(e.source_resource, e.concept.code): e for e in inpatient.evidence if e.kind == "condition"}
    assert len(statements) == 8  # 4 conditions x (SNOMED + ICD-10-CM)
    assert statements[("Condition/cond-hf-chf", "I50.23")].section_title == "Hospital Course"
    assert statements[("Condition/cond-hf-ckd", "709044004")].section_title == "HISTORY OF PRESENT ILLNESS"
    # "Type 2 diabetes mellitus without complications" appears only in the diagnosis list.
    assert statements[("Condition/cond-hf-dm2", "E11.9")].section_title == "Discharge Diagnoses"
    assert statements[("Condition/cond-hf-dm2", "E11.9")].document_id == "doc-hf-dischargesummary"


def test_procedure_is_linked_by_its_text_and_observations_are_evidence(inpatient: EncounterBundle) -> None:
    vent = next(e for e in inpatient.evidence if e.kind == "procedure" and e.concept.code == "5A1955Z")
    assert vent.section_title == "Hospital Course"  # code.text "Mechanical ventilation" is named there
    labs = {e.concept for e in inpatient.evidence if e.kind == "observation"}
    assert labs == {Concept("loinc", "2160-0"), Concept("loinc", "33762-6"), Concept("loinc", "2345-7")}


def test_note_mentions_come_from_names_and_annotations_once_per_line(inpatient: EncounterBundle) -> None:
    mentions = [e for e in inpatient.evidence if e.kind == "note_mention"]
    chf_course = [
        m for m in mentions if m.concept == Concept("snomed", "42343007") and m.section_title == "Hospital Course"
    ]
    assert len(chf_course) == 1  # named and annotated on the same line: one mention
    assert chf_course[0].text.endswith("[SNOMED:42343007]")
    annotated_icd = [m for m in mentions if m.concept == Concept("icd10cm", "I50.23")]
    assert {m.section_title for m in annotated_icd} == {"Hospital Course", "Discharge Diagnoses"}
    assert len({m.id for m in inpatient.evidence}) == len(inpatient.evidence)


def test_codes_to_check_list_every_code_with_its_location(inpatient: EncounterBundle) -> None:
    where: dict[tuple[str, str], str] = {}
    for c in inpatient.codes_to_check:
        where.setdefault((c.system_name, c.code), str(c.location))  # the coding comes before the note annotation
    assert where[("icd10cm", "I50.23")] == "inpatient_heart_failure.json: Bundle.entry[4].resource.code.coding[1]"
    assert where[("icd10pcs", "5A1955Z")] == "inpatient_heart_failure.json: Bundle.entry[8].resource.code.coding[0]"
    annotated = [c for c in inpatient.codes_to_check if c.location.path.endswith("attachment.data")]
    assert {(c.system_name, c.code) for c in annotated} == {
        ("snomed", "42343007"),
        ("snomed", "233604007"),
        ("icd10cm", "I50.23"),
    }
    assert len(inpatient.codes_to_check) == 19


def test_outpatient_ndjson_directory_gives_cpt_codes_and_payer_from_organization(outpatient: EncounterBundle) -> None:
    (encounter,) = outpatient.encounters
    assert encounter.class_code == "AMB" and [c.code for c in encounter.type_codes] == ["99214"]
    assert encounter.payer_id == "BCBS-PPO"  # Coverage.payor references an Organization with that identifier
    assert encounter.discharge_disposition is None and encounter.age_years_at_admission == 55
    assert [(c.system_name, c.code) for p in outpatient.procedures for c in p.codings] == [("cpt", "93306")]
    ndjson_locations = {str(c.location) for c in outpatient.codes_to_check}
    assert "Procedure.ndjson:1: Procedure.code.coding[0]" in ndjson_locations
    assert outpatient.documents == ()
