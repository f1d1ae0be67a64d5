"""The service's handle on Neo4j: reads in read transactions (routable to secondaries)."""

from __future__ import annotations

from typing import Any

from neo4j import Driver, RoutingControl


class Graph:
    def __init__(self, driver: Driver, database: str) -> None:
        self.driver = driver
        self.database = database

    def read(self, cypher: str, **params: Any) -> list[dict[str, Any]]:
        records, _, _ = self.driver.execute_query(
            cypher, params, database_=self.database, routing_=RoutingControl.READ
        )
        return [r.data() for r in records]

    def read_one(self, cypher: str, **params: Any) -> dict[str, Any] | None:
        rows = self.read(cypher, **params)
        return rows[0] if rows else None

    def write(self, cypher: str, **params: Any) -> list[dict[str, Any]]:
        records, _, _ = self.driver.execute_query(
            cypher, params, database_=self.database, routing_=RoutingControl.WRITE
        )
        return [r.data() for r in records]
