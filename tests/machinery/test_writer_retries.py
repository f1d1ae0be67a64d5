"""A batch the server refuses with a deadlock is retried by the driver: the load counts the wait, not the rows twice.

Two writer sessions can deadlock (seen on ICD-10-CM code rows, on the relationship chain of a note edge, found at
commit); the summary's ``transaction_retries`` is how a maintainer learns a load waited. Here a deadlock is made
on purpose with real transactions and locks: transaction X holds nodes 1 and 4-6; the writer's batch locks nodes
3 and 2 and waits for node 1; X asks for node 2 and closes the cycle. Neo4j aborted the transaction holding fewer
locks in every run (X with one lock was the victim when tried); the driver runs the writer's again once X commits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from neo4j import Driver

from codegraph.settings import Settings
from loaders.machinery.writer import GraphWriter

PROBE = "UNWIND $rows AS row MATCH (n:RetryProbe {id: row}) SET n.writes = coalesce(n.writes, 0) + 1"


def _wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _blocked(driver: Driver, database: str, fragment: str) -> bool:
    records, _, _ = driver.execute_query(
        "SHOW TRANSACTIONS YIELD currentQuery, status WHERE currentQuery CONTAINS $fragment "
        "AND status STARTS WITH 'Blocked' RETURN count(*) AS n", fragment=fragment, database_=database)
    return records[0]["n"] > 0


def test_a_deadlocked_batch_is_retried_written_once_and_counted(clean_graph: Driver, settings: Settings) -> None:
    db = settings.neo4j_database
    clean_graph.execute_query("UNWIND range(1, 6) AS i CREATE (:RetryProbe {id: i})", database_=db)
    writer = GraphWriter(clean_graph, db, run_id="retry-probe", release_id=None)
    written: list[int] = []
    errors: list[BaseException] = []

    with clean_graph.session(database=db) as x_session:
        x = x_session.begin_transaction()
        x.run("MATCH (n:RetryProbe) WHERE n.id IN [1, 4, 5, 6] SET n.x = 1").consume()

        def write() -> None:
            try:
                written.append(writer.write("probe", PROBE, [3, 2, 1]))
            except BaseException as exc:
                errors.append(exc)

        def x_asks_for_node_2() -> None:
            try:
                x.run("MATCH (n:RetryProbe {id: 2}) SET n.x = 2 // x asks").consume()
                x.commit()
            except BaseException as exc:
                errors.append(exc)

        writer_thread = threading.Thread(target=write)
        writer_thread.start()
        _wait_until(lambda: _blocked(clean_graph, db, "RetryProbe {id: row}"), "the writer to wait for node 1")
        x_thread = threading.Thread(target=x_asks_for_node_2)  # the cycle
        x_thread.start()
        writer_thread.join(60)
        x_thread.join(60)

    assert not errors, errors
    assert written == [3]
    assert writer.stats.retries_per_statement == {"probe": 1}
    assert writer.stats.as_properties()["transaction_retries"] == 1
    assert writer.stats.per_statement == {"probe": 3}  # the refused attempt's rows are not counted
    records, _, _ = clean_graph.execute_query(
        "MATCH (n:RetryProbe) WHERE n.id <= 3 RETURN n.id AS id, n.writes AS writes, n.x AS x ORDER BY id",
        database_=db)
    assert [(r["id"], r["writes"], r["x"]) for r in records] == [(1, 1, 1), (2, 1, 2), (3, 1, None)]
