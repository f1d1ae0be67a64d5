"""Unbounded auditor queries are refused at the EXPLAIN stage, with how to bound them; bounded ones run."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings

SEED = """
UNWIND range(1, 2000) AS i
CREATE (c:Code:ICD10CMCode {key: 'icd10cm|T' + i, code: 'T' + i, system: 'icd10cm', load_run: 'seed'})
WITH c, i WHERE i > 1
MATCH (p:Code {key: 'icd10cm|T' + (i / 2)})
CREATE (c)-[:IS_A {release: 'seed'}]->(p)
"""


@pytest.fixture
def seeded(clean_graph: Driver, settings: Settings) -> Driver:
    clean_graph.execute_query(SEED, database_=settings.neo4j_database)
    return clean_graph


@pytest.mark.parametrize("query", [
    "MATCH (a:Code)-[:IS_A*]->(b) RETURN count(*)",
    "MATCH (a:Code)-[:IS_A*1..]->(b) RETURN a.code, b.code",
    "MATCH (a:Code)-[:IS_A]->+(b) RETURN count(*)",
    "MATCH (a:Code {key: 'icd10cm|T7'})<-[*0..]-(d) RETURN count(d)",
])
def test_an_unbounded_variable_length_pattern_is_refused_with_how_to_bound_it(
        client: TestClient, auditor, seeded: Driver, query: str) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/cypher", json={"query": query}, headers=auditor)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "no upper bound" in r.json()["detail"] and "*1..12" in r.json()["detail"]


def test_a_huge_cartesian_product_is_refused_before_it_runs(client: TestClient, auditor, seeded: Driver) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/cypher", json={"query": "MATCH (a:Code), (b:Code), (c:Code) RETURN a.code, b.code, c.code"},
                    headers=auditor)
    assert r.status_code == 400, r.text
    assert "Cartesian product" in r.json()["detail"] and "connect the patterns" in r.json()["detail"]


@pytest.mark.parametrize("query", [
    "MATCH (a:Code {key: 'icd10cm|T1000'})-[:IS_A*1..12]->(b) RETURN count(b) AS n",
    "MATCH (a:Code {key: 'icd10cm|T1000'}) ((x)-[:IS_A]->(y)){1,12} (b) RETURN count(b) AS n",
    "MATCH (a:Code {key: 'icd10cm|T1000'}), (b:Code {key: 'icd10cm|T1'}) "
    "MATCH p = shortestPath((a)-[*]-(b)) RETURN length(p) AS n",
])
def test_bounded_patterns_run(client: TestClient, auditor, seeded: Driver, query: str) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/cypher", json={"query": query}, headers=auditor)
    assert r.status_code == 200, r.text
    assert r.json()["rows"][0]["n"] >= 9  # T1000 → T500 → … → T1 is 9 steps
