"""The write statements find every node they link by a seek on that node's unique key. Planned on stale statistics
(right after a FHIR load), the server once chose an index scan per cited evidence id in the coding load's statement:
a demo's coding load took 62 s instead of 3 (bench/RESULTS.md, session 14). These plans are made on the test graph's
current statistics; what rules out a scan on stale ones is the statements' ``USING INDEX SEEK`` pins."""

from __future__ import annotations

from neo4j import Driver

from codegraph.settings import Settings
from graph_service.services.coding import WRITE_ASSIGNMENTS
from loaders.fhir.graph_rows import DOCUMENTS, ENCOUNTERS, EVIDENCE, PATIENTS, SECTIONS
from loaders.machinery.code_release import CODE_FIELDS, code_rows_statement, edge_statement
from loaders.machinery.row_layout import RowLayout
from ontology.vocabulary import L, R
from tests.graph_service.plans import plan_operators


def _seeks_without_scans(driver: Driver, settings: Settings, statement: str, *keys: str) -> None:
    summary = driver.execute_query(f"EXPLAIN {statement}", rows=[], release="r", run="x", system="icd10cm",
                                   database_=settings.neo4j_database).summary
    assert summary.plan is not None
    operators = plan_operators(summary.plan)
    seeks = " | ".join(details for op, details in operators if op.startswith("NodeUniqueIndexSeek"))
    for key in keys:
        assert f":{key}" in seeks, (key, operators)
    scans = [(op, d) for op, d in operators if "Scan" in op]
    assert not scans, scans


def test_every_lookup_of_the_assignment_write_is_a_unique_key_seek(driver: Driver, settings: Settings) -> None:
    _seeks_without_scans(driver, settings, WRITE_ASSIGNMENTS,
                         f"{L.Encounter}(id)", f"{L.CodingAssignment}(id)", f"{L.MSDRG}(key)", f"{L.Code}(key)",
                         f"{L.Evidence}(id)", f"{L.Coder}(id)")


def test_the_fhir_ingest_probes_and_links_by_unique_key_seeks(driver: Driver, settings: Settings) -> None:
    _seeks_without_scans(driver, settings, PATIENTS, f"{L.Patient}(id)")
    _seeks_without_scans(driver, settings, ENCOUNTERS, f"{L.Encounter}(id)", f"{L.Patient}(id)")
    _seeks_without_scans(driver, settings, DOCUMENTS, f"{L.ClinicalDocument}(id)", f"{L.Encounter}(id)")
    _seeks_without_scans(driver, settings, SECTIONS, f"{L.DocumentSection}(id)", f"{L.ClinicalDocument}(id)")
    _seeks_without_scans(driver, settings, EVIDENCE, f"{L.Evidence}(id)", f"{L.Encounter}(id)",
                         f"{L.DocumentSection}(id)", f"{L.ClinicalDocument}(id)", f"{L.Code}(key)")


def test_a_code_release_links_its_codes_by_key_seeks(driver: Driver, settings: Settings) -> None:
    for fresh in (True, False):
        with_parents = code_rows_statement(L.ICD10CMCode, RowLayout((*CODE_FIELDS, "kind", "parent")), fresh=fresh)
        _seeks_without_scans(driver, settings, with_parents, f"{L.Code}(key)", f"{L.Release}(id)")
        _seeks_without_scans(driver, settings, edge_statement(R.EXCLUDES1, RowLayout(("source", "target", "note")),
                                                              fresh=fresh, identity=("note",)), f"{L.Code}(key)")
