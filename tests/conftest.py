"""Shared fixtures: a real Neo4j for the whole session, a clean graph per test that asks for one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from neo4j import Driver

from codegraph.db import open_driver
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
    with driver.session(database=database) as session:
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()


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
