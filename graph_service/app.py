"""The FastAPI application factory; the Neo4j driver lives for the app's lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from neo4j.exceptions import DriverError, Neo4jError

from codegraph import __version__
from codegraph.db import open_driver
from codegraph.settings import Settings, get_settings
from graph_service.errors import install_error_handlers
from graph_service.fast_lane import FastLane, FastLaneStats
from graph_service.fhir.routes import router as fhir_router
from graph_service.graph import Graph
from graph_service.reference.store import ReferenceStore
from graph_service.reference.warm import warm_reference_tables
from graph_service.request_contract import BodySizeLimit
from graph_service.routes import ROUTERS
from graph_service.security import load_key_hashes

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        driver = open_driver(settings, retry_s=3.0)
        reference = ReferenceStore(driver, settings.neo4j_database, poll_s=settings.release_poll_s,
                                   background_builds=True)
        app.state.graph = graph = Graph(driver, settings.neo4j_database, reference)
        try:
            reference.start()
            warm_reference_tables(graph)
        except (Neo4jError, DriverError) as exc:  # the service starts without Neo4j; /readyz tells
            log.warning("release catalog not read at start-up: %s", exc)
        try:
            yield
        finally:
            reference.close()
            driver.close()

    # /docs and /redoc from the assets fastapi-offline installs, not a CDN: they work without internet.
    app = FastAPIOffline(
        title="codegraph",
        version=__version__,
        summary="Knowledge-graph ontology service for medical coding",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.api_key_hashes = load_key_hashes(settings.api_keys, settings.api_keys_file)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, limit=settings.max_request_bytes)
    # Outermost: a hot call the release tables can answer never reaches the framework (graph_service/fast_lane.py).
    app.state.fast_lane = FastLaneStats()
    app.add_middleware(FastLane)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(fhir_router)  # FHIR R4 terminology over the same services (graph_service/fhir)
    return app
