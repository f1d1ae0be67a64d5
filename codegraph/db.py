"""The one way to open a Neo4j driver from settings."""

from __future__ import annotations

from neo4j import Driver, GraphDatabase

from codegraph.settings import Settings


def open_driver(settings: Settings) -> Driver:
    """A driver for bolt://, neo4j:// or neo4j+s:// URIs (routing URIs send reads to secondaries)."""
    return GraphDatabase.driver(
        settings.bolt_uri,
        auth=(settings.neo4j_user, settings.resolved_password()),
        max_connection_pool_size=50,
        connection_acquisition_timeout=10.0,
        connection_timeout=5.0,
    )
