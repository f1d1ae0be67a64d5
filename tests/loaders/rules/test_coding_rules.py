"""The coding-rules loader: guideline sections, checks and modifier rules as nodes of one release; a bad file
is refused with the place of the error and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from loaders.errors import ParseError
from loaders.registry import load_source
from loaders.rules.records import BUNDLED, read_coding_rules
from ontology.check import check_graph
from tests.conftest import graph_counts


def test_the_bundled_rules_file_is_valid_and_names_real_guideline_sections() -> None:
    rules = read_coding_rules(BUNDLED)
    sections = {g.section for g in rules.guidelines}
    assert {"I.A.12.a", "I.A.13", "I.B.2", "II", "II.C", "III", "App.I"} <= sections
    distinct = next(g for g in rules.modifiers if g.kind == "distinct_service")
    assert set(distinct.modifiers) == {"59", "XE", "XS", "XP", "XU"} and distinct.bypasses_ptp
    bilateral = next(g for g in rules.modifiers if g.kind == "bilateral")
    assert bilateral.modifiers == ("50",) and not bilateral.bypasses_ptp


def test_loads_guidelines_checks_and_modifier_rules_linked_and_conformant(clean_graph: Driver,
                                                                         settings: Settings) -> None:
    report = load_source(clean_graph, settings, "coding_rules", [BUNDLED], "FY2026")
    assert report.status == "completed" and report.counts["modifier_rules"] == 45
    records, _, _ = clean_graph.execute_query("""
        MATCH (c:RuleCheck {check: 'excludes1'})-[:IMPLEMENTS]->(g:Guideline)-[:IN_RELEASE]->(r:Release)
        RETURN c.key AS check, g.section AS section, g.fiscal_year AS fy, r.id AS release""",
                                              database_=settings.neo4j_database)
    assert [r.data() for r in records] == [{"check": "coding_rules@FY2026|excludes1", "section": "I.A.12.a",
                                            "fy": 2026, "release": "coding_rules@FY2026"}]
    assert check_graph(clean_graph, settings.neo4j_database) == []


@pytest.mark.parametrize(("text", "field", "expected"), [
    ("format: codegraph-coding-rules/1\nguideline_document: G\nfiscal_year: 2026\n"
     "guidelines: [{section: I.A.12.a, title: T, statement: S}]\n"
     "checks: [{check: excludes1, family: compliant, title: T, guidelines: [I.A.99]}]\n", None, "not listed"),
    ("format: codegraph-coding-rules/1\nguideline_document: G\nfiscal_year: 2026\n"
     "guidelines: [{section: I.A.12.a, title: T, statement: S}]\n"
     "checks: [{check: excludes1, family: tidy, title: T}]\n", "checks[0].family", "valid"),
    ("format: codegraph-coding-rules/1\nguidelines: [\n", None, "well-formed YAML"),
])
def test_a_bad_rules_file_is_refused_with_its_place_and_nothing_is_written(
    text: str, field: str | None, expected: str, clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "coding_rules_bad.yaml"
    path.write_text(text)
    before = graph_counts(clean_graph, settings.neo4j_database)
    with pytest.raises(ParseError) as err:
        load_source(clean_graph, settings, "coding_rules", [path], "FY2026")
    assert err.value.file == str(path) and expected in str(err.value)
    if field:
        assert err.value.field == field
    assert graph_counts(clean_graph, settings.neo4j_database)[0] <= before[0] + 1  # at most the failed LoadRun
    records, _, _ = clean_graph.execute_query("MATCH (n) WHERE n:Guideline OR n:RuleCheck RETURN count(n) AS n",
                                              database_=settings.neo4j_database)
    assert records[0]["n"] == 0
