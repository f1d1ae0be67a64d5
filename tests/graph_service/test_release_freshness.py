"""Release data held in memory is never stale: a promotion or retraction is seen at once by the process that
made it, and within the catalog poll interval by a separately running server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from graph_service.app import create_app
from loaders.registry import load_source
from tests.conftest import wipe_graph
from tests.served_api import served_api

REPO = Path(__file__).resolve().parents[2]
POLL_S = 0.2


def _code_list(path: Path, titles: dict[str, str]) -> Path:
    """A code file in the CMS layout: code padded to 8 columns, then the title."""
    path.write_text("".join(f"{code:<8}{title}\n" for code, title in titles.items()))
    return path


@pytest.fixture
def two_releases(clean_graph: Driver, settings: Settings, tmp_path: Path) -> tuple[Path, Path]:
    older = _code_list(tmp_path / "fy2025.txt", {"A000": "Cholera, title of the older release", "A009": "Cholera"})
    newer = _code_list(tmp_path / "fy2026.txt", {"A000": "Cholera, title of the newer release", "A009": "Cholera",
                                                "B20": "Human immunodeficiency virus [HIV] disease"})
    load_source(clean_graph, settings, "icd10cm", [older], "FY2025")
    return older, newer


def _wait_for_table(client: TestClient, release: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        held = client.get("/readyz").json()["reference_tables"]["held"]
        if f"('codes', '{release}')" in held:
            return
        time.sleep(0.05)
    raise AssertionError(f"the table of {release} was not built within {timeout_s}s")


def test_a_release_promoted_by_this_process_is_served_at_once(
    two_releases: tuple[Path, Path], settings: Settings, driver: Driver, api_keys
) -> None:  # type: ignore[no-untyped-def]
    _, newer = two_releases
    keyed = settings.model_copy(update={"api_keys": api_keys["engine"][1], "release_poll_s": 3600.0})
    engine = {"X-API-Key": api_keys["engine"][0]}
    with TestClient(create_app(keyed)) as client:
        _wait_for_table(client, "icd10cm@FY2025")  # answers now come from memory
        before = client.get("/v1/codes/icd10cm/A00.0", headers=engine).json()
        assert (before["release"], before["title"]) == ("icd10cm@FY2025", "Cholera, title of the older release")
        assert client.get("/v1/codes/icd10cm/B20", headers=engine).status_code == 404

        load_source(driver, settings, "icd10cm", [newer], "FY2026")  # the poll is an hour away: no waiting on it
        after = client.get("/v1/codes/icd10cm/A00.0", headers=engine).json()
        assert (after["release"], after["title"]) == ("icd10cm@FY2026", "Cholera, title of the newer release")
        assert after["releases"] == ["icd10cm@FY2025", "icd10cm@FY2026"]
        assert client.get("/v1/codes/icd10cm/B20", headers=engine).json()["release"] == "icd10cm@FY2026"
        # the older release's table learnt the new release too: its validity window now ends later
        old_view = client.get("/v1/codes/icd10cm/A00.0?release=FY2025", headers=engine).json()
        assert old_view["valid_to"] == "icd10cm@FY2026"

        wipe_graph(driver, settings.neo4j_database)
        assert client.get("/v1/codes/icd10cm/A00.0", headers=engine).status_code == 404


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`codegraph serve` in its own process, against the tests' Neo4j."""
    poll = {"CODEGRAPH_RELEASE_POLL_S": str(POLL_S)}
    with served_api(settings, tmp_path, env=poll, timeout_s=60) as (server, engine):
        yield server.base_url, engine


def _first_change(fetch, expected, timeout_s: float = 10.0) -> float:  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if fetch() == expected:
            return time.monotonic() - t0
        time.sleep(0.01)
    raise AssertionError(f"still {fetch()!r} after {timeout_s}s, expected {expected!r}")


def test_another_process_sees_promotion_and_retraction_within_the_poll_interval(
    two_releases: tuple[Path, Path], settings: Settings, driver: Driver, served: tuple[str, dict[str, str]]
) -> None:
    _, newer = two_releases
    base, engine = served

    def lookup() -> tuple[int, str | None, str | None]:
        r = httpx.get(f"{base}/v1/codes/icd10cm/A00.0", headers=engine, timeout=5)
        body = r.json()
        return r.status_code, body.get("release"), body.get("title")

    deadline = time.monotonic() + 120
    while "('codes', 'icd10cm@FY2025')" not in httpx.get(f"{base}/readyz").json()["reference_tables"]["held"]:
        assert time.monotonic() < deadline, "the FY2025 table was not built"
        time.sleep(0.05)
    assert lookup() == (200, "icd10cm@FY2025", "Cholera, title of the older release")

    load_source(driver, settings, "icd10cm", [newer], "FY2026")
    seen_after = _first_change(lookup, (200, "icd10cm@FY2026", "Cholera, title of the newer release"))
    assert seen_after < POLL_S + 1.0  # one poll, plus the request itself on a busy machine

    # A retracted release stops being served (what `codegraph release retract` does to the release node).
    driver.execute_query("MATCH (r:Release {id: 'icd10cm@FY2026'}) SET r.status = 'retracted'",
                         database_=settings.neo4j_database)
    seen_after = _first_change(lookup, (200, "icd10cm@FY2025", "Cholera, title of the older release"))
    assert seen_after < POLL_S + 1.0
    r = httpx.get(f"{base}/v1/codes/icd10cm/B20?release=FY2026", headers=engine, timeout=5)
    assert r.status_code == 404
