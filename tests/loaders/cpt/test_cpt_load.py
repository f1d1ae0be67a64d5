"""CPT from a licensee's file into the graph: codes, categories, descriptors, against a real Neo4j."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from loaders.cpt.licensee_file import CptFileLayout
from loaders.cpt.load import CptLoader
from loaders.errors import ParseError
from loaders.machinery.pipeline import run_load
from loaders.machinery.runs import ReleaseSpec
from loaders.registry import load_source
from ontology.vocabulary import L, R
from tests.conftest import graph_counts

LONGULT = Path(__file__).resolve().parents[2] / "fixtures" / "cpt" / "LONGULT_sample.txt"
RELEASE = "cpt@2026"


def _membership(driver: Driver, settings: Settings, code: str) -> dict[str, Any]:
    records, _, _ = driver.execute_query(
        f"""MATCH (c:{L.CPTCode} {{key: 'cpt|' + $code}})-[m:{R.IN_RELEASE}]->(:{L.Release} {{id: $release}})
            RETURN properties(m) AS m, c.title AS node_title""",
        code=code, release=RELEASE, database_=settings.neo4j_database,
    )
    assert records, f"{code} is not in {RELEASE}"
    return {**records[0]["m"], "node_title": records[0]["node_title"]}


def test_office_visit_is_category_i_with_the_placeholder_text(clean_graph: Driver, settings: Settings) -> None:
    load_source(clean_graph, settings, "cpt", [LONGULT], "2026")
    visit = _membership(clean_graph, settings, "99213")
    placeholder = "Procedure 99213 (placeholder text, not the AMA descriptor)"
    assert {k: visit[k] for k in ("category", "title", "node_title", "long_descriptor", "billable", "kind")} == {
        "category": "I", "title": placeholder, "node_title": placeholder, "long_descriptor": placeholder,
        "billable": True, "kind": "code",
    }


def test_every_code_form_gets_its_category(clean_graph: Driver, settings: Settings) -> None:
    report = load_source(clean_graph, settings, "cpt", [LONGULT], "2026")
    assert [_membership(clean_graph, settings, c)["category"] for c in ("3074F", "0042T", "0001U")] == [
        "II", "III", "PLA"]
    assert {k: v for k, v in report.counts.items() if k.startswith("category_") or k == "codes"} == {
        "codes": 10, "category_I": 7, "category_II": 1, "category_III": 1, "category_PLA": 1,
    }


def test_layout_with_header_and_several_descriptors_titles_by_the_long_one(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "cpt_2026.tsv"
    path.write_text("Code\tShort\tLong\n99213\tOffice visit est\tOffice visit, established patient (placeholder)\n")
    layout = CptFileLayout(descriptor_columns={"short": 1, "long": 2}, has_header=True)
    run_load(clean_graph, settings.neo4j_database, CptLoader(layout), [path], ReleaseSpec.parse("cpt", "2026"))
    visit = _membership(clean_graph, settings, "99213")
    assert (visit["title"], visit["short_descriptor"], visit["search_terms"]) == (
        "Office visit, established patient (placeholder)", "Office visit est", "Office visit est")


def test_layout_without_a_long_column_titles_by_the_first_descriptor(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "SHORTU.TXT"
    path.write_text("99213\tOffice visit est (placeholder)\n")
    loader = CptLoader()
    loader.layout = CptFileLayout(descriptor_columns={"short": 1})
    run_load(clean_graph, settings.neo4j_database, loader, [path], ReleaseSpec.parse("cpt", "2026"))
    assert _membership(clean_graph, settings, "99213")["title"] == "Office visit est (placeholder)"


def test_bad_line_leaves_the_graph_as_it_was_and_names_file_and_line(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    load_source(clean_graph, settings, "cpt", [LONGULT], "2026")
    before = graph_counts(clean_graph, settings.neo4j_database)
    bad = tmp_path / "LONGULT.TXT"
    bad.write_text(LONGULT.read_text() + "9921\tA code that lost its leading zero\n")
    with pytest.raises(ParseError) as err:
        load_source(clean_graph, settings, "cpt", [bad], "2027")
    assert f"{bad}:11" in str(err.value)
    nodes, rels = graph_counts(clean_graph, settings.neo4j_database)
    assert (nodes - 1, rels) == before  # only the failed LoadRun is left


def test_rerunning_the_same_load_gives_the_same_graph(clean_graph: Driver, settings: Settings) -> None:
    load_source(clean_graph, settings, "cpt", [LONGULT], "2026")
    before = graph_counts(clean_graph, settings.neo4j_database)
    report = load_source(clean_graph, settings, "cpt", [LONGULT], "2026")
    assert report.status == "unchanged"  # the very same files (sha256): recognised before anything is written
    assert graph_counts(clean_graph, settings.neo4j_database) == before
