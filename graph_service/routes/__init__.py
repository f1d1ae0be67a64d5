"""HTTP routes; each module parses, calls a service function and shapes the response."""

from graph_service.routes import codes, health, releases

ROUTERS = [health.router, releases.router, codes.router]
