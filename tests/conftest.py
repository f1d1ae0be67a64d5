"""Shared fixtures: a real Neo4j for the whole session, a clean graph per test that asks for one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from neo4j import Driver

from codegraph.db import empty_graph, open_driver
from codegraph.release_events import releases_changed
from codegraph.settings import Settings
from ontology.schema import apply_schema
from tests.neo4j_provider import TestNeo4j, provide_neo4j


@pytest.fixture(scope="session")
def neo4j_server() -> Iterator[TestNeo4j]:
    with provide_neo4j() as server:
        yield server


@pytest.fixture(scope="session")
def settings(neo4j_server: TestNeo4j) -> Settings:
    return neo4j_server.settings


@pytest.fixture(scope="session")
def driver(settings: Settings) -> Iterator[Driver]:
    drv = open_driver(settings)
    drv.verify_connectivity()
    apply_schema(drv, settings.neo4j_database)
    yield drv
    drv.close()


def wipe_graph(driver: Driver, database: str) -> None:
    empty_graph(driver, database)
    releases_changed()  # a service in this process re-reads its release catalog on its next request


@pytest.fixture
def clean_graph(driver: Driver, settings: Settings) -> Driver:
    """An empty graph (schema kept) for a test that writes its own data."""
    wipe_graph(driver, settings.neo4j_database)
    return driver


def graph_counts(driver: Driver, database: str) -> tuple[int, int]:
    records, _, _ = driver.execute_query(
        "CALL () { MATCH (n) RETURN count(n) AS nodes } CALL () { MATCH ()-[r]->() RETURN count(r) AS rels } "
        "RETURN nodes, rels",
        database_=database,
    )
    return records[0]["nodes"], records[0]["rels"]


# ---- the real bundled ICD-10-CM releases, loaded once -------------------------------------------
REFERENCE_FIXTURE = "reference_graph"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on the real releases run last, so the clean-graph tests before them do not wipe the load."""
    items.sort(key=lambda item: REFERENCE_FIXTURE in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def reference_graph(driver: Driver, settings: Settings) -> Driver:
    """ICD-10-CM FY2024 and FY2025 (code lists) and FY2026 (tabular XML), as the demo loads them."""
    from loaders.bundled import bundled_datasets
    from loaders.registry import load_source

    wanted = [ds for ds in bundled_datasets() if ds.source == "icd10cm"]
    records, _, _ = driver.execute_query("MATCH (r:Release) RETURN collect(r.id + ':' + r.status) AS releases",
                                         database_=settings.neo4j_database)
    if sorted(records[0]["releases"]) == sorted(f"icd10cm@{ds.version}:visible" for ds in wanted):
        return driver  # left by an earlier run of these tests alone; nothing else is in the graph
    wipe_graph(driver, settings.neo4j_database)
    for ds in wanted:
        load_source(driver, settings, ds.source, list(ds.paths), ds.version)
    return driver
