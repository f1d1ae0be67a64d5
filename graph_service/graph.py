"""The service's handle on Neo4j: reads in read transactions (routable to secondaries), and the release
data held in process (``reference``); reads refuse to block under ``blocking.memory_only()``."""

from __future__ import annotations

from typing import Any

from neo4j import Driver, RoutingControl

from graph_service.blocking import check_may_block
from graph_service.reference.store import ReferenceStore


class Graph:
    def __init__(self, driver: Driver, database: str, reference: ReferenceStore | None = None) -> None:
        self.driver = driver
        self.database = database
        self.reference = reference or ReferenceStore(driver, database)

    def read(self, cypher: str, **params: Any) -> list[dict[str, Any]]:
        check_may_block()
        records, _, _ = self.driver.execute_query(
            cypher, params, database_=self.database, routing_=RoutingControl.READ
        )
        return [r.data() for r in records]

    def read_one(self, cypher: str, **params: Any) -> dict[str, Any] | None:
        rows = self.read(cypher, **params)
        return rows[0] if rows else None

    def write(self, cypher: str, **params: Any) -> list[dict[str, Any]]:
        check_may_block()
        records, _, _ = self.driver.execute_query(
            cypher, params, database_=self.database, routing_=RoutingControl.WRITE
        )
        return [r.data() for r in records]
