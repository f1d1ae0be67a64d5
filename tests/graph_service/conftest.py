"""The HTTP API through its client, against the session's real Neo4j."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from codegraph.settings import Settings
from graph_service.app import create_app
from graph_service.security import Role, new_key


@pytest.fixture(scope="session")
def api_keys() -> dict[str, tuple[str, str]]:
    return {role.value: new_key(role) for role in Role}


def _settings_with_keys(settings: Settings, keys: dict[str, tuple[str, str]]) -> Settings:
    return settings.model_copy(update={"api_keys": ",".join(line for _, line in keys.values())})


@pytest.fixture(scope="session")
def client(settings: Settings, driver, api_keys) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(_settings_with_keys(settings, api_keys)), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session")
def engine(api_keys) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"X-API-Key": api_keys["engine"][0]}


@pytest.fixture(scope="session")
def auditor(api_keys) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"X-API-Key": api_keys["auditor"][0]}


@pytest.fixture(scope="session")
def maintainer(api_keys) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"X-API-Key": api_keys["maintainer"][0]}
