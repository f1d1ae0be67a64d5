"""The ontology is the schema: exports, generated constraints, names, and the conformance check."""

from __future__ import annotations

import re
from pathlib import Path

import rdflib
from neo4j import Driver
from rdflib.namespace import OWL, RDF, RDFS

from codegraph.settings import Settings
from ontology.check import check_graph
from ontology.export import export_ontology
from ontology.model import ONTOLOGY_IRI
from ontology.schema import apply_schema, missing_schema, schema_statements
from ontology.vocabulary import NODE_SPECS, REL_SPECS, L, R, labels_for

REPO = Path(__file__).resolve().parents[2]
CG = rdflib.Namespace(ONTOLOGY_IRI)


def test_turtle_export_declares_classes_and_properties_with_domains() -> None:
    g = rdflib.Graph().parse(data=export_ontology("ttl"), format="turtle")
    classes = set(g.subjects(RDF.type, OWL.Class))
    assert CG.ICD10CMCode in classes and CG.CodingAssignment in classes and CG.LoadRun in classes
    assert (CG.ICD10CMCode, RDFS.subClassOf, CG.Code) in g
    assert (CG.excludes1, RDF.type, OWL.ObjectProperty) in g
    assert (CG.mapsTo, RDFS.range, CG.ICD10CMCode) in g
    assert (CG.supports, OWL.inverseOf, CG.supportedBy) in g


def test_owl_export_is_rdf_xml_that_round_trips() -> None:
    xml = export_ontology("owl")
    assert xml.startswith("<?xml")
    g = rdflib.Graph().parse(data=xml, format="xml")
    assert (CG.MSDRG, RDF.type, OWL.Class) in g


def test_the_required_classes_and_relationships_are_declared() -> None:
    for label in ("CodeSystem", "Release", "Code", "ICD10CMCode", "ICD10PCSCode", "CPTCode", "HCPCSCode",
                  "Modifier", "ICD10CMChapter", "ICD10CMSection", "SnomedConcept", "MapRule", "MUE", "Payer",
                  "PayerPolicy", "MSDRG", "MDC", "SeverityDesignation", "PDXExclusionCollection", "Patient",
                  "Encounter", "ClinicalDocument", "Evidence", "Observation", "CodingAssignment", "AssignedCode",
                  "Coder", "LoadRun"):
        assert label in L
    for rtype in ("IS_A", "MAPS_TO", "EXCLUDES1", "EXCLUDES2", "CODE_FIRST", "USE_ADDITIONAL", "CODE_ALSO",
                  "BUNDLES", "COVERED_BY", "SUPPORTED_BY", "GROUPED_TO", "SUPERSEDES", "IN_RELEASE", "REPLACED_BY"):
        assert rtype in R
    assert labels_for(L.ICD10CMCode) == ("ICD10CMCode", "Code")


def test_an_undeclared_name_is_refused() -> None:
    try:
        _ = L.IcdCode
    except AttributeError as exc:
        assert "not a node label declared" in str(exc)
    else:
        raise AssertionError("an undeclared label was accepted")


def test_every_label_and_type_in_named_queries_is_declared() -> None:
    names = set(NODE_SPECS) | set(REL_SPECS)
    for path in (REPO / "queries").glob("*.cypher"):
        text = re.sub(r"//.*", "", path.read_text())
        used = set(re.findall(r"[(\[]\s*\w*\s*:\s*`?([A-Za-z_][A-Za-z0-9_]*)", text))
        used |= set(re.findall(r"\|\s*:?([A-Z][A-Z0-9_]+)\b", text))
        assert used <= names, f"{path.name} uses undeclared {sorted(used - names)}"


def test_schema_apply_is_idempotent_and_complete(driver: Driver, settings: Settings) -> None:
    apply_schema(driver, settings.neo4j_database)
    apply_schema(driver, settings.neo4j_database)
    assert missing_schema(driver, settings.neo4j_database) == []
    records, _, _ = driver.execute_query("SHOW INDEXES YIELD name, type WHERE type = 'FULLTEXT' RETURN name",
                                         database_=settings.neo4j_database)
    assert [r["name"] for r in records] == ["code_search"]
    assert len(schema_statements()) == len({s.name for s in schema_statements()})


def test_key_uniqueness_is_enforced_across_code_subclasses(clean_graph: Driver, settings: Settings) -> None:
    clean_graph.execute_query("CREATE (:Code:ICD10CMCode {key: 'icd10cm|A00.0', code: 'A00.0'})",
                              database_=settings.neo4j_database)
    try:
        clean_graph.execute_query("CREATE (:Code:SnomedConcept {key: 'icd10cm|A00.0'})",
                                  database_=settings.neo4j_database)
    except Exception as exc:
        assert "already exists" in str(exc)
    else:
        raise AssertionError("a duplicate key was accepted")


def test_check_reports_undeclared_relationships_wrong_endpoints_and_missing_properties(
    clean_graph: Driver, settings: Settings
) -> None:
    clean_graph.execute_query(
        """
        CREATE (a:Code:ICD10CMCode {key: 'icd10cm|I50.9', system: 'icd10cm', code: 'I50.9', load_run: 'r1'})
        CREATE (b:Code:ICD10CMCode {key: 'icd10cm|I50', system: 'icd10cm', code: 'I50', load_run: 'r1'})
        CREATE (p:Patient {id: 'p1'})
        CREATE (a)-[:IS_A {release: 'icd10cm@FY2026', load_run: 'r1'}]->(b)
        CREATE (a)-[:IS_A {release: 'icd10cm@FY2026'}]->(b)
        CREATE (a)-[:LIKES {release: 'x', load_run: 'r1'}]->(b)
        CREATE (p)-[:EXCLUDES1 {release: 'x', load_run: 'r1'}]->(a)
        """,
        database_=settings.neo4j_database,
    )
    found = {(v.kind, v.subject.split(";")[0], v.count) for v in check_graph(clean_graph, settings.neo4j_database)}
    assert ("undeclared-relationship", "LIKES", 1) in found
    assert ("wrong-endpoints", "(Patient)-[:EXCLUDES1]->(Code:ICD10CMCode)", 1) in found
    assert ("missing-property", "[:IS_A].load_run", 1) in found
    assert ("missing-property", "(:Patient).load_run", 1) in found


def test_a_conforming_graph_has_no_violations(clean_graph: Driver, settings: Settings) -> None:
    clean_graph.execute_query(
        """
        CREATE (a:Code:ICD10CMCode {key: 'icd10cm|I50.9', system: 'icd10cm', code: 'I50.9', load_run: 'r1'})
        CREATE (b:Code:ICD10CMCode {key: 'icd10cm|I50', system: 'icd10cm', code: 'I50', load_run: 'r1'})
        CREATE (a)-[:IS_A {release: 'icd10cm@FY2026', load_run: 'r1'}]->(b)
        """,
        database_=settings.neo4j_database,
    )
    assert check_graph(clean_graph, settings.neo4j_database) == []
