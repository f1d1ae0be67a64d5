"""Dependencies every route gets through ``Annotated`` aliases: settings, graph, caller's role."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from codegraph.settings import Settings
from graph_service.errors import Forbidden, Unauthorized
from graph_service.graph import Graph
from graph_service.security import Role, role_of

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


# Dependencies are coroutines: a plain ``def`` dependency costs every request a hop to the thread pool.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_graph(request: Request) -> Graph:
    return request.app.state.graph


SettingsDep = Annotated[Settings, Depends(get_settings)]
GraphDep = Annotated[Graph, Depends(get_graph)]


def require_roles(*allowed: Role) -> Callable[..., Awaitable[Role]]:
    """A dependency that admits only callers whose key has one of ``allowed`` roles."""

    async def check(request: Request, key: Annotated[str | None, Security(_api_key_header)]) -> Role:
        if not key:
            raise Unauthorized("send an API key in the X-API-Key header")
        role = role_of(key, request.app.state.api_key_hashes)
        if role is None:
            raise Unauthorized("unknown API key")
        if role not in allowed:
            raise Forbidden(f"role {role.value!r} may not call this endpoint (allowed: {[r.value for r in allowed]})")
        return role

    return check


ANY_ROLE = (Role.engine, Role.auditor, Role.maintainer)
Reader = Annotated[Role, Depends(require_roles(*ANY_ROLE))]
Auditor = Annotated[Role, Depends(require_roles(Role.auditor, Role.maintainer))]
Writer = Annotated[Role, Depends(require_roles(Role.engine, Role.maintainer))]
Maintainer = Annotated[Role, Depends(require_roles(Role.maintainer))]
