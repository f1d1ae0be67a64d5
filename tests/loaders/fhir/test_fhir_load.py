"""Loading FHIR encounter data: the graph the audit queries read, whole or not at all, idempotent."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from loaders.fhir.issues import FhirValidationError
from loaders.registry import load_source
from ontology.discharge_status import discharge_status
from ontology.vocabulary import L, R
from tests.conftest import graph_counts

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
INPATIENT = FIXTURES / "fhir" / "inpatient_heart_failure.json"
OUTPATIENT = FIXTURES / "fhir" / "outpatient_echo_ndjson"
SNOMED = FIXTURES / "snomed" / "SnomedCT_USEditionRF2_PRODUCTION_20250301T120000Z"
# The ICD-10-CM codes of the inpatient fixture, as a CMS codes file (FY2024 covers the 2024-02 stay).
ICD10CM_FY2024 = {"I5023": "Acute on chronic systolic (congestive) heart failure",
                  "E119": "Type 2 diabetes mellitus without complications",
                  "N1830": "Chronic kidney disease, stage 3 unspecified", "J189": "Pneumonia, unspecified organism"}


def read(driver: Driver, settings: Settings, cypher: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(cypher, params, database_=settings.neo4j_database)
    return [r.data() for r in records]


def data_counts(driver: Driver, settings: Settings) -> tuple[int, int]:
    """Nodes and relationships other than load provenance (LoadRun, PRODUCED_BY)."""
    row = read(driver, settings, f"""
        CALL () {{ MATCH (n) WHERE NOT n:{L.LoadRun} RETURN count(n) AS nodes }}
        CALL () {{ MATCH ()-[r]->() WHERE type(r) <> '{R.PRODUCED_BY}' RETURN count(r) AS rels }}
        RETURN nodes, rels""")[0]
    return row["nodes"], row["rels"]


def codes_file(tmp_path: Path, codes: dict[str, str], name: str = "icd10cm-codes.txt") -> Path:
    path = tmp_path / name
    path.write_text("".join(f"{code:<7} {title}\n" for code, title in codes.items()))
    return path


def mutated_inpatient(tmp_path: Path, name: str, change: Any) -> Path:
    bundle = json.loads(INPATIENT.read_text())
    change([e["resource"] for e in bundle["entry"]])
    path = tmp_path / name
    path.write_text(json.dumps(bundle))
    return path


@pytest.fixture
def inpatient_loaded(clean_graph: Driver, settings: Settings) -> Any:
    return load_source(clean_graph, settings, "fhir", [INPATIENT], "batch-1")


def test_inpatient_bundle_becomes_patient_encounter_payer_note_and_evidence(
    inpatient_loaded: Any, driver: Driver, settings: Settings
) -> None:
    counts = inpatient_loaded.counts
    assert (counts["patients"], counts["encounters"], counts["documents"], counts["sections"]) == (1, 1, 1, 5)
    assert inpatient_loaded.release == "fhir@batch-1" and inpatient_loaded.status == "completed"
    row = read(driver, settings, f"""
        MATCH (p:{L.Patient})-[:{R.HAS_ENCOUNTER}]->(e:{L.Encounter} {{id: 'enc-hf-0001'}})-[:{R.INSURED_BY}]->(y)
        RETURN p.id AS patient, p.sex AS sex, toString(p.birth_date) AS born, e.class AS class,
               e.discharge_disposition AS disposition, e.discharge_status AS status, e.age_years AS age,
               toString(e.period_start) AS admitted, e.type_codes AS types, y.id AS payer""")[0]
    assert row == {"patient": "pt-hf-0001", "sex": "female", "born": "1951-06-14", "class": "IMP",
                   "disposition": "06", "status": 6, "age": 72, "admitted": "2024-02-03T14:20:00-05:00",
                   "types": ["snomed|32485007"], "payer": "MEDICARE-A"}


def test_clinical_times_keep_their_type_and_offset(inpatient_loaded: Any, driver: Driver, settings: Settings) -> None:
    """A dateTime is stored as a zoned DateTime with the source's offset, a partial date as the Date it starts on
    (the loader sends zoned datetimes as text for the server to parse: the values must not change)."""
    rows = read(driver, settings, f"""
        MATCH (x:{L.Evidence} {{kind: 'condition', system: 'icd10cm'}})
        RETURN x.code AS code, toString(x.onset) AS onset, valueType(x.onset) AS type""")
    by_code = {r["code"]: (r["onset"], r["type"]) for r in rows}
    assert by_code["I50.23"] == ("2024-02-03T14:20:00-05:00", "ZONED DATETIME NOT NULL")
    assert by_code["N18.30"] == ("2019-05-01", "DATE NOT NULL")
    encounter = read(driver, settings, f"""
        MATCH (e:{L.Encounter} {{id: 'enc-hf-0001'}})
        RETURN valueType(e.period_start) AS start, e.period_end > e.period_start AS ordered""")[0]
    assert encounter == {"start": "ZONED DATETIME NOT NULL", "ordered": True}
    observed = read(driver, settings, f"""
        MATCH (x:{L.Observation}) RETURN DISTINCT toString(x.effective) AS at, valueType(x.effective) AS type""")
    assert observed == [{"at": "2024-02-03T15:05:00-05:00", "type": "ZONED DATETIME NOT NULL"}]


def test_evidence_is_linked_to_the_section_that_documents_it(inpatient_loaded: Any, driver: Driver,
                                                             settings: Settings) -> None:
    rows = read(driver, settings, f"""
        MATCH (e:{L.Encounter})-[:{R.HAS_EVIDENCE}]->(x:{L.Evidence})-[:{R.DOCUMENTED_IN}]->(s:{L.DocumentSection})
              <-[:{R.HAS_SECTION}]-(d:{L.ClinicalDocument})<-[:{R.HAS_DOCUMENT}]-(e)
        RETURN x.id AS evidence, s.title AS section, d.note_type AS note_type""")
    where = {r["evidence"]: r["section"] for r in rows}
    assert where["Condition/cond-hf-chf#icd10cm:I50.23"] == "Hospital Course"
    assert where["Condition/cond-hf-dm2#icd10cm:E11.9"] == "Discharge Diagnoses"
    assert where["Procedure/proc-hf-vent#icd10pcs:5A1955Z"] == "Hospital Course"
    assert {r["note_type"] for r in rows} == {"18842-5"}
    section = read(driver, settings, f"""
        MATCH (d:{L.ClinicalDocument})-[:{R.HAS_SECTION}]->(s:{L.DocumentSection} {{title: 'Hospital Course'}})
        RETURN d.text AS note, s.text AS text, s.start_offset AS at""")[0]
    assert section["note"][section["at"]: section["at"] + len(section["text"])] == section["text"]


def test_conditions_carry_present_on_admission(inpatient_loaded: Any, driver: Driver, settings: Settings) -> None:
    rows = read(driver, settings, f"""
        MATCH (x:{L.Evidence} {{kind: 'condition', system: 'icd10cm'}}) RETURN x.code AS code, x.poa AS poa""")
    assert {r["code"]: r["poa"] for r in rows} == {"I50.23": "Y", "E11.9": "Y", "N18.30": "Y", "J18.9": "N"}


def test_observations_and_concepts(inpatient_loaded: Any, driver: Driver, settings: Settings) -> None:
    labs = read(driver, settings, f"""
        MATCH (:{L.Encounter})-[:{R.HAS_EVIDENCE}]->(o:{L.Observation}:{L.Evidence})
        RETURN o.loinc AS loinc, o.value AS value, o.unit AS unit, o.interpretation AS flag ORDER BY loinc""")
    assert labs == [{"loinc": "2160-0", "value": 2.1, "unit": "mg/dL", "flag": "H"},
                    {"loinc": "2345-7", "value": 182.0, "unit": "mg/dL", "flag": "H"},
                    {"loinc": "33762-6", "value": 8450.0, "unit": "pg/mL", "flag": "H"}]
    concepts = read(driver, settings, f"""
        MATCH (x:{L.Evidence} {{id: 'Condition/cond-hf-chf#snomed:42343007'}})-[a:{R.ABOUT_CONCEPT}]->(c)
        RETURN c.key AS key, c:{L.SnomedConcept} AS snomed, a.release AS release, a.load_run IS NOT NULL AS run""")
    assert concepts == [{"key": "snomed|42343007", "snomed": True, "release": "fhir@batch-1", "run": True}]
    # Nothing is loaded, so codes were only shape-checked: the load says so.
    assert inpatient_loaded.counts["codes_not_checked_icd10cm"] > 0
    assert inpatient_loaded.counts["codes_not_checked_loinc"] == 4


def test_every_node_and_relationship_carries_provenance(inpatient_loaded: Any, driver: Driver,
                                                        settings: Settings) -> None:
    missing = read(driver, settings, f"""
        CALL () {{ MATCH (n) WHERE n.load_run IS NULL AND NOT n:{L.LoadRun} RETURN count(n) AS nodes }}
        CALL () {{ MATCH ()-[r]->() WHERE r.load_run IS NULL OR r.release IS NULL RETURN count(r) AS rels }}
        RETURN nodes, rels""")[0]
    assert missing == {"nodes": 0, "rels": 0}


def test_loading_again_adds_nothing(inpatient_loaded: Any, driver: Driver, settings: Settings) -> None:
    before = data_counts(driver, settings)
    again = load_source(driver, settings, "fhir", [INPATIENT], "batch-1")
    # the very same files (sha256): recognised before anything is written
    assert again.status == "unchanged" and again.stats.nodes_created == 0
    assert data_counts(driver, settings) == before


def test_outpatient_ndjson_directory(clean_graph: Driver, settings: Settings) -> None:
    report = load_source(clean_graph, settings, "fhir", [OUTPATIENT], "batch-op")
    assert report.counts["encounters"] == 1
    row = read(clean_graph, settings, f"""
        MATCH (e:{L.Encounter} {{id: 'enc-op-0002'}})-[:{R.INSURED_BY}]->(y:{L.Payer})
        MATCH (e)-[:{R.HAS_EVIDENCE}]->(o:{L.Observation})
        RETURN e.class AS class, e.discharge_status AS status, y.id AS payer, o.value AS lvef""")[0]
    assert row == {"class": "AMB", "status": None, "payer": "BCBS-PPO", "lvef": 35.0}


def test_a_code_unknown_in_the_release_in_force_fails_the_load_located(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    without_ckd = {k: v for k, v in ICD10CM_FY2024.items() if k != "N1830"}
    load_source(clean_graph, settings, "icd10cm", [codes_file(tmp_path, without_ckd)], "FY2024")
    before = graph_counts(clean_graph, settings.neo4j_database)
    with pytest.raises(FhirValidationError) as raised:
        load_source(clean_graph, settings, "fhir", [INPATIENT], "batch-1")
    (issue,) = raised.value.issues
    assert str(issue.location) == "inpatient_heart_failure.json: Bundle.entry[6].resource.code.coding[1]"
    assert issue.reason == "an ICD-10-CM code of icd10cm@FY2024, the release in force on 2024-02-10"
    assert issue.found == "N18.30"
    nodes, rels = graph_counts(clean_graph, settings.neo4j_database)
    assert (nodes - 1, rels) == before  # only the failed LoadRun record is new
    assert read(clean_graph, settings, f"MATCH (e:{L.Encounter}) RETURN count(e) AS n") == [{"n": 0}]


def test_codes_of_the_release_in_force_pass(clean_graph: Driver, settings: Settings, tmp_path: Path) -> None:
    load_source(clean_graph, settings, "icd10cm", [codes_file(tmp_path, ICD10CM_FY2024)], "FY2024")
    report = load_source(clean_graph, settings, "fhir", [INPATIENT], "batch-1")
    assert "codes_not_checked_icd10cm" not in report.counts
    # The ICD-10-CM code node is the loaded one, not a new one.
    row = read(clean_graph, settings, f"""
        MATCH (:{L.Evidence} {{id: 'Condition/cond-hf-chf#icd10cm:I50.23'}})-[:{R.ABOUT_CONCEPT}]->(c)
              -[:{R.IN_RELEASE}]->(r:{L.Release}) RETURN r.id AS release""")
    assert row == [{"release": "icd10cm@FY2024"}]


def test_snomed_concepts_are_checked_against_the_loaded_snomed_release(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    load_source(clean_graph, settings, "snomed", [SNOMED], "20250301")
    # The fixture release lacks the encounter type (32485007) and the ventilation concept (40617009).
    (encounter_type, ventilation) = issues_of(clean_graph, settings, INPATIENT)
    assert (encounter_type.location.path, encounter_type.found) == ("Bundle.entry[3].resource.type[0].coding[0]",
                                                                    "32485007")
    assert encounter_type.reason == (
        "a SNOMED CT code of a loaded release (snomed@20250301); none is in force on 2024-02-10")
    assert (ventilation.location.path, ventilation.found) == ("Bundle.entry[8].resource.code.coding[1]",
                                                              "40617009")

    def known_concepts_only(resources: list[dict[str, Any]]) -> None:
        resources[3]["type"][0]["coding"][0]["code"] = "404684003"  # clinical finding: in the fixture release
        del resources[8]["code"]["coding"][1]

    report = load_source(clean_graph, settings, "fhir", [mutated_inpatient(tmp_path, "b.json", known_concepts_only)],
                         "batch-1")
    assert report.counts["codes_checked_without_release_in_force_snomed"] > 0


def issues_of(driver: Driver, settings: Settings, source: Path) -> tuple[Any, ...]:
    with pytest.raises(FhirValidationError) as raised:
        load_source(driver, settings, "fhir", [source], "rejected")
    return raised.value.issues


def test_schema_errors_in_one_shard_fail_every_shard_with_all_issues(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    source = tmp_path / "export"
    source.mkdir()
    shutil.copy(INPATIENT, source / "a-inpatient.json")
    shutil.copytree(OUTPATIENT, source / "b-outpatient")
    (source / "c-bad").mkdir()
    (source / "c-bad" / "Patient.ndjson").write_text(
        '{"resourceType":"Patient","id":"p1","gender":"female","birthDate":"1960-13-01"}\n'
        '{"resourceType":"Patient","id":"p2","gender":"female","deceasedBoolean":"perhaps"}\n')
    before = graph_counts(clean_graph, settings.neo4j_database)
    with pytest.raises(FhirValidationError) as raised:
        load_source(clean_graph, settings, "fhir", [source], "export-1")
    assert {(Path(i.location.file).name, i.location.line) for i in raised.value.issues} == {
        ("Patient.ndjson", 1), ("Patient.ndjson", 2)}
    assert graph_counts(clean_graph, settings.neo4j_database)[1] == before[1]
    assert read(clean_graph, settings, f"MATCH (e:{L.Encounter}) RETURN count(e) AS n") == [{"n": 0}]
    shutil.rmtree(source / "c-bad")
    report = load_source(clean_graph, settings, "fhir", [source], "export-2")
    assert (report.counts["shards"], report.counts["encounters"]) == (2, 2)


def test_discharge_dispositions_map_to_ub04_patient_status() -> None:
    assert [discharge_status(c) for c in ("home", "snf", "exp", "aadvice", "hosp", "06", "1", None, "zz")] == [
        1, 3, 20, 7, 2, 6, 1, None, None]
