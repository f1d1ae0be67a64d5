"""The FY2026 tabular, completely: every note text reachable, block inclusion terms, conditions and qualifiers
kept as data, inherited notes shown on lookup — on the real bundled release through the HTTP API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from loaders.bundled import bundled_datasets
from loaders.icd10cm.tabular_model import EDGE_NOTES, TabularModel
from ontology.vocabulary import L, R

pytestmark = pytest.mark.usefixtures("reference_graph")
FY2026 = "icd10cm@FY2026"


def _fy2026_xml():  # type: ignore[no-untyped-def]
    return next(p for ds in bundled_datasets() if ds.source == "icd10cm" and ds.version == "FY2026"
                for p in ds.paths if p.suffix == ".xml")


def test_every_note_text_of_the_release_is_in_the_graph(reference_graph: Driver, settings: Settings) -> None:
    model = TabularModel.read(_fy2026_xml())
    kind_of = {rel: kind for kind, rel in EDGE_NOTES.items()}
    written = {(model.source_code(n), n.kind, n.text) for n in model.notes if n.kind in EDGE_NOTES}
    records, _, _ = reference_graph.execute_query(f"""
        MATCH (c:{L.Code})-[n:{"|".join(EDGE_NOTES.values())} {{release: $release}}]->()
        RETURN DISTINCT c.code AS source, type(n) AS type, n.note AS note
        UNION
        MATCH (c:{L.Code})-[m:{R.IN_RELEASE}]->(:{L.Release} {{id: $release}})
        UNWIND coalesce(m.unresolved_notes, []) AS text
        RETURN c.code AS source, split(text, ': ')[0] AS type, substring(text, size(split(text, ': ')[0]) + 2) AS note
        """, release=FY2026, database_=settings.neo4j_database)
    found = {(r["source"], kind_of.get(r["type"], r["type"]), r["note"]) for r in records}
    assert len(written) > 10_000
    assert sorted(written - found)[:5] == []


def test_two_notes_naming_the_same_target_are_both_shown(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    rec = client.get("/v1/codes/icd10cm/D06", headers=engine).json()
    to_n87_1 = {n["note"] for n in rec["notes"] if n["kind"] == "EXCLUDES1" and n["target"]["code"] == "N87.1"
                and n["inherited_from"] is None}
    assert "moderate cervical dysplasia (N87.1)" in to_n87_1 and len(to_n87_1) == 2


@pytest.mark.parametrize(("block", "words"), [
    ("P35-P39", "utero umbilicus"), ("X71-X83", "purposely"),
    ("Y21-Y33", "documentation record intent"), ("Z40-Z53", "prophylactic consolidate"),
])
def test_block_inclusion_terms_are_kept_and_searchable(client: TestClient, engine, block: str,  # type: ignore[no-untyped-def]
                                                       words: str) -> None:
    rec = client.get(f"/v1/codes/icd10cm/{block}", headers=engine).json()
    assert all(any(w in term.lower() for term in rec["inclusion_terms"]) for w in words.split())
    hits = client.get("/v1/search", params={"q": words, "system": "icd10cm", "limit": 50}, headers=engine).json()
    assert block in {h["code"] for h in hits["items"]}


def test_a_qualified_range_targets_only_the_codes_it_selects(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    # G63 Excludes1 "diabetes mellitus (E08-E13 with .42)": the diabetic polyneuropathy codes, not all diabetes.
    rec = client.get("/v1/codes/icd10cm/G63", headers=engine).json()
    notes = [n for n in rec["notes"] if n["note"] == "diabetes mellitus (E08-E13 with .42)"]
    assert {n["target"]["code"] for n in notes} == {"E08.42", "E09.42", "E10.42", "E11.42", "E13.42"}
    assert {n["qualifier"] for n in notes} == {".42"}
    out = client.post("/v1/validate/codes", headers=engine, json={
        "date_of_service": "2025-11-03", "codes": [{"code": "G63"}, {"code": "E11.9"}]}).json()
    assert out["excludes1_conflicts"] == []  # E11.9 is not E11.42
    out = client.post("/v1/validate/codes", headers=engine, json={
        "date_of_service": "2025-11-03", "codes": [{"code": "G63"}, {"code": "E11.42"}]}).json()
    assert [(c["code"], c["excluded"]) for c in out["excludes1_conflicts"]] == [("G63", "E11.42")]


def test_a_character_qualifier_selects_by_position(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    # "(T36-T50 with fifth or sixth character 5)": the adverse-effect codes, e.g. T36.0X5 and T36.95.
    rec = client.get("/v1/codes/icd10cm/D61.1", headers=engine).json()
    targets = {n["target"]["code"] for n in rec["notes"] if n["qualifier"] == "fifth or sixth character 5"}
    assert {"T36.0X5", "T36.95", "T45.1X5"} <= targets
    assert not {t for t in targets if t.replace(".", "")[4:6].find("5") < 0}


def test_an_if_applicable_instruction_is_conditional_not_unmet(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    # C61 "Use additional code, if applicable, to identify: hormone sensitivity status (Z19.1-Z19.2) …"
    rec = client.get("/v1/codes/icd10cm/C61", headers=engine).json()
    assert {n["condition"] for n in rec["notes"] if n["kind"] == "USE_ADDITIONAL" and n["inherited_from"] is None
            } == {"if applicable"}
    out = client.post("/v1/validate/codes", headers=engine, json={
        "date_of_service": "2025-11-03", "codes": [{"code": "C61"}]}).json()
    on_c61 = [r for r in out["conditional_requirements"] if r["noted_on"] == "C61"]
    assert on_c61 and on_c61[0]["kind"] == "USE_ADDITIONAL" and on_c61[0]["condition"] == "if applicable"
    assert not [r for r in out["unmet_requirements"] if r["noted_on"] == "C61"]
    met = client.post("/v1/validate/codes", headers=engine, json={
        "date_of_service": "2025-11-03", "codes": [{"code": "C61"}, {"code": "R97.21"}]}).json()
    assert [r["met_by"] for r in met["met_requirements"] if r["noted_on"] == "C61"] == [["R97.21"]]


def test_lookup_shows_inherited_notes_with_the_ancestor_they_come_from(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    rec = client.get("/v1/codes/icd10cm/S72.001A", headers=engine).json()
    from_s72 = [n for n in rec["notes"] if n["inherited_from"] == "S72" and n["kind"] == "EXCLUDES1"]
    own = client.get("/v1/codes/icd10cm/S72", headers=engine).json()
    assert {(n["note"], n["target"]["code"]) for n in from_s72} == {
        (n["note"], n["target"]["code"]) for n in own["notes"] if n["kind"] == "EXCLUDES1" and not n["inherited_from"]}
    assert from_s72
    assert all(n["inherited_from"] is None for n in own["notes"] if n["kind"] == "EXCLUDES1")
