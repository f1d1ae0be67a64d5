"""HCPCS Level II into the graph: codes with their CMS detail fields, modifiers, against a real Neo4j."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from loaders.errors import ParseError
from loaders.registry import load_source
from ontology.vocabulary import L, R
from tests.conftest import graph_counts

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "hcpcs" / "HCPC2024_JAN_ANWEB_sample.txt"
RELEASE = "hcpcs@2024Q1"


def _membership(driver: Driver, settings: Settings, key: str) -> dict[str, Any]:
    records, _, _ = driver.execute_query(
        f"""MATCH (c:{L.Code} {{key: $key}})-[m:{R.IN_RELEASE}]->(:{L.Release} {{id: $release}})
            RETURN properties(m) AS m, labels(c) AS labels, c.title AS node_title""",
        key=key, release=RELEASE, database_=settings.neo4j_database,
    )
    assert records, f"{key} is not in {RELEASE}"
    return {**records[0]["m"], "labels": set(records[0]["labels"]), "node_title": records[0]["node_title"]}


@pytest.fixture
def loaded(clean_graph: Driver, settings: Settings) -> Driver:
    load_source(clean_graph, settings, "hcpcs", [SAMPLE], "2024Q1")
    return clean_graph


def test_discontinued_mammography_code_keeps_its_termination_date(loaded: Driver, settings: Settings) -> None:
    mammo = _membership(loaded, settings, "hcpcs|G0202")
    assert (mammo["termination_date"], mammo["action_code"], mammo["billable"]) == ("2017-12-31", "D", False)
    assert mammo["title"] == mammo["node_title"] == (
        "Screening mammography, producing direct digital image, bilateral, all views")
    assert mammo["short_description"] == "Scr mammo bi incl cad"


def test_crutches_carry_pricing_coverage_and_betos(loaded: Driver, settings: Settings) -> None:
    crutches = _membership(loaded, settings, "hcpcs|E0110")
    assert {k: crutches.get(k) for k in ("pricing_indicators", "type_of_service", "coverage_code", "betos",
                                         "added_date", "action_code", "billable", "kind")} == {
        "pricing_indicators": ["32"], "type_of_service": ["P", "R"], "coverage_code": "D", "betos": "D1B",
        "added_date": "1984-01-01", "action_code": "N", "billable": True, "kind": "code",
    }
    assert "termination_date" not in crutches
    assert crutches["labels"] == {L.Code, L.HCPCSCode}


def test_modifier_xs_is_a_modifier_node_of_the_hcpcs_release(loaded: Driver, settings: Settings) -> None:
    xs = _membership(loaded, settings, "modifier|XS")
    assert xs["labels"] == {L.Code, L.Modifier}
    assert xs["title"].startswith("Separate structure, a service that is distinct because it was performed on")
    assert xs["title"].endswith("separate organ/structure")  # the continuation line folded in
    assert (xs["kind"], xs["billable"], xs["short_description"]) == ("modifier", True, "Separate structure")


def test_codes_and_modifiers_are_counted_without_hierarchy(clean_graph: Driver, settings: Settings) -> None:
    report = load_source(clean_graph, settings, "hcpcs", [SAMPLE], "2024Q1")
    assert {k: report.counts[k] for k in ("codes", "modifiers", "billable", "terminated")} == {
        "codes": 10, "modifiers": 6, "billable": 9, "terminated": 1,
    }
    records, _, _ = clean_graph.execute_query(
        f"""MATCH (c:{L.HCPCSCode}) WITH count(c) AS codes
            MATCH (m:{L.Modifier}) WITH codes, count(m) AS modifiers
            RETURN codes, modifiers, COUNT {{ ()-[:{R.IS_A}]->() }} AS is_a""",
        database_=settings.neo4j_database,
    )
    assert dict(records[0]) == {"codes": 10, "modifiers": 6, "is_a": 0}


def test_bad_record_leaves_the_graph_as_it_was_and_names_file_and_line(
    loaded: Driver, settings: Settings, tmp_path: Path
) -> None:
    before = graph_counts(loaded, settings.neo4j_database)
    lines = SAMPLE.read_text().splitlines(keepends=True)
    bad = tmp_path / "HCPC2024_APR_ANWEB.txt"
    bad.write_text("".join(lines[:5]) + " " + lines[5][:-2] + "\n" + "".join(lines[6:]))  # line 6 shifted right
    with pytest.raises(ParseError) as err:
        load_source(loaded, settings, "hcpcs", [bad], "2024Q2")
    assert f"{bad}:6" in str(err.value)
    nodes, rels = graph_counts(loaded, settings.neo4j_database)
    assert (nodes - 1, rels) == before  # only the failed LoadRun is left


def test_rerunning_the_same_load_gives_the_same_graph(loaded: Driver, settings: Settings) -> None:
    before = graph_counts(loaded, settings.neo4j_database)
    report = load_source(loaded, settings, "hcpcs", [SAMPLE], "2024Q1")
    assert report.status == "unchanged"  # the very same files (sha256): recognised before anything is written
    assert graph_counts(loaded, settings.neo4j_database) == before
