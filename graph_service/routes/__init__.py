"""HTTP routes; each module parses, calls a service function and shapes the response."""

from graph_service.routes import (
    claim_edits,
    codes,
    coverage,
    cypher,
    derivation,
    drg,
    encounters,
    evaluation,
    health,
    releases,
    search,
    validation,
)

ROUTERS = [health.router, releases.router, codes.router, validation.router, search.router, cypher.router,
           encounters.router, coverage.router, derivation.router, claim_edits.router,
           drg.router, evaluation.router]
