"""A release table asked for by several threads at once is built once (a bulk coding load groups claims on
four threads: each used to read the MS-DRG tables from the graph for itself)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from neo4j import Driver

from codegraph.settings import Settings
from graph_service.reference.store import ReferenceStore


def test_concurrent_callers_share_one_build_and_a_new_version_builds_again(driver: Driver,
                                                                            settings: Settings) -> None:
    store = ReferenceStore(driver, settings.neo4j_database)
    builds: list[str] = []
    started = threading.Barrier(6)

    def build(version: str) -> object:
        builds.append(version)
        time.sleep(0.3)  # long enough for every other caller to arrive while it runs
        return {"built for": version}

    def ask(version: str) -> object:
        started.wait()
        return store.table(("msdrg", "msdrg@FY2026"), version, lambda: build(version))

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(ask, ["v1"] * 6))
    assert builds == ["v1"]
    assert all(a is answers[0] for a in answers)

    assert store.table(("msdrg", "msdrg@FY2026"), "v2", lambda: build("v2")) == {"built for": "v2"}
    assert builds == ["v1", "v2"]
