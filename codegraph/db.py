"""The one way to open a Neo4j driver from settings, and to empty its graph."""

from __future__ import annotations

from neo4j import Driver, GraphDatabase

from codegraph.settings import Settings


def open_driver(settings: Settings, *, retry_s: float = 30.0) -> Driver:
    """A driver for bolt://, neo4j:// or neo4j+s:// URIs (routing URIs send reads to secondaries).

    ``retry_s`` bounds how long managed transactions retry transient errors: loads wait out a
    busy server; the HTTP service answers 503 quickly instead (it passes a few seconds).
    """
    return GraphDatabase.driver(
        settings.bolt_uri,
        auth=(settings.neo4j_user, settings.resolved_password()),
        max_connection_pool_size=50,
        connection_acquisition_timeout=10.0,
        connection_timeout=5.0,
        max_transaction_retry_time=retry_s,
        # The server's notifications (e.g. UnknownPropertyKeyWarning while a property is not yet in the graph)
        # are logged by the driver as warnings on every query: tens of MB of stderr during loads and load tests.
        # Nothing reads them, so the server is asked not to send them at all.
        notifications_min_severity="OFF",
    )


def empty_graph(driver: Driver, database: str | None = None) -> None:
    """Every relationship, then every node, in transactions of 20,000 (one DETACH DELETE of a release node's 100k
    memberships does not fit a transaction's memory); the schema stays. For tests and benchmarks: a load's own
    clean-up removes only what its run wrote (``RunLedger``)."""
    with driver.session(database=database) as session:
        session.run("MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 20000 ROWS").consume()
        session.run("MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 20000 ROWS").consume()
