"""/v1/cypher for auditors: read-only, time-limited, row-capped; every write or admin attempt refused."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from tests.conftest import graph_counts

SEED = """
UNWIND range(1, 30) AS i
CREATE (:Code:ICD10CMCode {key: 'icd10cm|T' + i, code: 'T' + i, system: 'icd10cm', load_run: 'seed'})
"""

ATTEMPTS = [
    "CREATE (n:Code {key: 'x'})",
    "MERGE (n:Code {key: 'x'}) RETURN n",
    "MATCH (n:Code) SET n.title = 'hacked' RETURN n",
    "MATCH (n:Code) DELETE n",
    "MATCH (n) DETACH DELETE n",
    "MATCH (n:Code) REMOVE n.code RETURN n",
    "LOAD CSV FROM 'file:///etc/passwd' AS line RETURN line",
    "WITH 1 AS x LOAD CSV FROM 'file:///etc/hostname' AS line RETURN line",
    "CALL db.createLabel('Hacked')",
    "CALL db.clearQueryCaches()",
    "CALL dbms.listConfig() YIELD name RETURN name",
    "MATCH (n) CALL (n) { SET n.x = 1 } IN TRANSACTIONS RETURN count(*)",
    "CREATE INDEX hacked FOR (n:Code) ON (n.title)",
    "DROP CONSTRAINT code_key_unique",
    "DROP INDEX code_search",
    "ALTER USER neo4j SET PASSWORD 'owned'",
    "SHOW SETTINGS",
    "SHOW USERS",
    "TERMINATE TRANSACTIONS 'neo4j-transaction-1'",
    "MATCH (n) RETURN n; MATCH (n) DETACH DELETE n",
    "MATCH (n) RETURN n /* harmless */ ; CREATE (:X)",
    "/* comment */ CREATE (:X)",
    "// just reading\nCREATE (:X)",
    "MATCH (n:Code) WITH n FOREACH (x IN [1] | SET n.y = x)",
    "USE system SHOW USERS",
    "CREATE DATABASE hacked",
    "CALL dbms.components() YIELD name RETURN name",
    "CALL db.info() YIELD id RETURN id",
    "MATCH (n) WITH n LIMIT 1 CALL { WITH n DELETE n } RETURN 1",
]


@pytest.fixture
def seeded(clean_graph: Driver, settings: Settings) -> Driver:
    clean_graph.execute_query(SEED, database_=settings.neo4j_database)
    return clean_graph


@pytest.mark.parametrize("query", ATTEMPTS)
def test_writes_admin_and_file_access_are_refused_and_change_nothing(
    client: TestClient, auditor, seeded: Driver, settings: Settings, query: str  # type: ignore[no-untyped-def]
) -> None:
    before = graph_counts(seeded, settings.neo4j_database)
    r = client.post("/v1/cypher", json={"query": query}, headers=auditor)
    assert r.status_code in (400, 422), (query, r.status_code, r.text)
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"]
    assert graph_counts(seeded, settings.neo4j_database) == before
    records, _, _ = seeded.execute_query("SHOW INDEXES YIELD name WHERE name = 'hacked' RETURN name",
                                         database_=settings.neo4j_database)
    assert not records


def test_a_read_query_returns_nodes_as_json(client: TestClient, auditor, seeded: Driver) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/cypher", json={"query": "MATCH (n:Code) WHERE n.code = $code RETURN n, n.code AS code",
                                        "params": {"code": "T7"}}, headers=auditor)
    assert r.status_code == 200
    out = r.json()
    assert out["columns"] == ["n", "code"] and out["row_count"] == 1 and not out["truncated"]
    node = out["rows"][0]["n"]
    assert sorted(node["labels"]) == ["Code", "ICD10CMCode"] and node["properties"]["code"] == "T7" and node["id"]


def test_the_row_cap_truncates(client: TestClient, auditor, seeded: Driver, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/cypher", json={"query": "UNWIND range(1, 100000) AS i RETURN i"}, headers=auditor)
    out = r.json()
    assert r.status_code == 200 and out["truncated"] is True and out["row_count"] == settings.cypher_row_cap


def test_a_long_query_is_stopped_by_the_timeout(
    settings: Settings, api_keys, seeded: Driver  # type: ignore[no-untyped-def]
) -> None:
    from graph_service.app import create_app

    fast = settings.model_copy(update={"cypher_timeout_s": 1.0,
                                       "api_keys": ",".join(v[1] for v in api_keys.values())})
    query = ("MATCH (a:Code), (b:Code), (c:Code), (d:Code), (e:Code), (f:Code) "
             "WHERE a.code + b.code + c.code + d.code + e.code + f.code = 'never' RETURN count(*)")
    with TestClient(create_app(fast), raise_server_exceptions=False) as c:
        r = c.post("/v1/cypher", json={"query": query}, headers={"X-API-Key": api_keys["auditor"][0]})
    assert r.status_code == 408, r.text
    assert "1s limit" in r.json()["detail"]


def test_engine_role_may_not_run_cypher(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/v1/cypher", json={"query": "RETURN 1"}, headers=engine).status_code == 403


def test_named_queries_are_listed_with_parameters_and_run(client: TestClient, auditor, seeded: Driver) -> None:  # type: ignore[no-untyped-def]
    listed = {q["name"]: q for q in client.get("/v1/queries", headers=auditor).json()}
    assert "code_history" in listed and {p["name"] for p in listed["code_history"]["params"]} == {"system", "code"}
    r = client.post("/v1/queries/code_history", json={"params": {"code": "T1"}}, headers=auditor)
    assert r.status_code == 200 and r.json()["rows"] == []  # seeded codes belong to no visible release
    bad = client.post("/v1/queries/code_history", json={"params": {"nope": 1}}, headers=auditor)
    assert bad.status_code == 422 and "nope" in bad.json()["detail"]
    assert client.post("/v1/queries/missing", json={}, headers=auditor).status_code == 404


def test_allowlisted_read_procedures_run(client: TestClient, auditor, seeded: Driver) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/cypher", json={"query": "CALL db.labels() YIELD label RETURN label ORDER BY label"},
                    headers=auditor)
    assert r.status_code == 200 and {"label": "Code"} in r.json()["rows"]
