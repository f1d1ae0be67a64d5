"""FHIR R4 ConceptMap procedure maps: validated with fhir.resources, conditions (dependsOn) and modifiers
(product) kept on ProcedureMap nodes between the SNOMED CT concept and the billing code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from loaders.conceptmap.records import read_concept_maps
from loaders.errors import ParseError
from loaders.registry import load_source
from ontology.check import check_graph

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "conceptmap" / "snomed-procedure-to-billing.json"


def test_the_fixture_maps_the_knee_procedure_by_laterality() -> None:
    maps = read_concept_maps(FIXTURE)
    cpt = {(m.depends_on[0].value, m.modifiers) for m in maps if m.target_system == "cpt"}
    assert cpt == {("24028007", ("RT",)), ("7771000", ("LT",)), ("51440002", ("50",))}
    pcs = {m.depends_on[0].value: m.target_code for m in maps if m.target_system == "icd10pcs"}
    assert pcs == {"24028007": "0SBC4ZZ", "7771000": "0SBD4ZZ"}


def test_loaded_maps_join_the_concept_to_its_billing_codes(clean_graph: Driver, settings: Settings) -> None:
    report = load_source(clean_graph, settings, "procedure_maps", [FIXTURE], "2026")
    assert report.counts["procedure_maps"] == 5
    records, _, _ = clean_graph.execute_query("""
        MATCH (:SnomedConcept {code: '40701008'})-[:HAS_PROCEDURE_MAP]->(m:ProcedureMap)
              -[:PROCEDURE_MAPS_TO]->(c:CPTCode)
        WHERE '24028007' IN m.condition_values
        RETURN c.code AS code, m.modifiers AS modifiers""", database_=settings.neo4j_database)
    assert [r.data() for r in records] == [{"code": "29881", "modifiers": ["RT"]}]
    assert check_graph(clean_graph, settings.neo4j_database) == []


@pytest.mark.parametrize(("change", "field"), [
    (lambda cm: cm["group"][0].update(target="http://loinc.org"), "ConceptMap.group[0].target"),
    (lambda cm: cm["group"][0]["element"][0]["target"][0].update(code="2988"),
     "ConceptMap.group[0].element[0].target[0].code"),
    (lambda cm: cm["group"][0]["element"][0]["target"][0].update(equivalence="sameish"), None),
])
def test_a_bad_map_is_refused_with_its_fhir_path(change, field: str | None, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cm = json.loads(FIXTURE.read_text())
    change(cm)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(cm))
    with pytest.raises(ParseError) as err:
        read_concept_maps(path)
    assert err.value.file == str(path)
    if field:
        assert err.value.field == field
    else:
        assert "equivalence" in (err.value.field or "")
