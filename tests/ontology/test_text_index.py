"""The full-text index trails commits (eventually consistent) yet a loaded release is searchable at once."""

from __future__ import annotations

from pathlib import Path

from neo4j import Driver

from codegraph.settings import Settings
from loaders.registry import load_source
from ontology.schema import FULLTEXT_INDEX, apply_schema

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

_MODE = """
SHOW INDEXES YIELD name, options WHERE name = $name
RETURN options.indexConfig['fulltext.eventually_consistent'] AS eventual
"""


def _eventual(driver: Driver, database: str) -> bool | None:
    records, _, _ = driver.execute_query(_MODE, name=FULLTEXT_INDEX, database_=database)
    return records[0]["eventual"] if records else None


def test_schema_apply_turns_a_synchronous_text_index_eventually_consistent(
    clean_graph: Driver, settings: Settings
) -> None:
    db = settings.neo4j_database
    try:
        # A database whose schema was applied before the index was eventually consistent.
        clean_graph.execute_query(f"DROP INDEX {FULLTEXT_INDEX}", database_=db)
        clean_graph.execute_query(
            f"CREATE FULLTEXT INDEX {FULLTEXT_INDEX} FOR (n:Code) ON EACH [n.title, n.search_terms]", database_=db)
        assert _eventual(clean_graph, db) is False
    finally:
        apply_schema(clean_graph, db)
    assert _eventual(clean_graph, db) is True


def test_codes_are_searchable_as_soon_as_their_load_returns(clean_graph: Driver, settings: Settings) -> None:
    apply_schema(clean_graph, settings.neo4j_database)
    load_source(clean_graph, settings, "icd10cm", [FIXTURES / "icd10cm" / "icd10cm-codes-2026-excerpt.txt"], "FY2026")
    records, _, _ = clean_graph.execute_query(
        f"CALL db.index.fulltext.queryNodes('{FULLTEXT_INDEX}', 'vibrio') YIELD node RETURN node.code AS code",
        database_=settings.neo4j_database)
    assert [r["code"] for r in records] == ["A00.0"]
