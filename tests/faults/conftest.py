"""Fault tests: each module breaks a Neo4j of its own (see ``harness``), never the session's server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from codegraph.db import empty_graph
from tests.faults.harness import FaultServer, Fingerprint, fingerprint, icd10cm_codes_excerpt, runs

# Enough batches to be caught in the middle of, few enough for seconds per load on a busy machine.
CODES = 3000
BATCH = "60"
RELEASE = "icd10cm@FY2024"


@pytest.fixture(scope="session")
def clean_fingerprint(loads_server: FaultServer, codes_file: Path) -> Fingerprint:
    return clean_load(loads_server, codes_file)


@pytest.fixture(scope="session")
def codes_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return icd10cm_codes_excerpt(tmp_path_factory.mktemp("faults-icd10cm"), CODES)


def load_args(codes_file: Path) -> tuple[str, ...]:
    return ("load", "icd10cm", str(codes_file), "--release", "FY2024", "--batch-size", BATCH)


def clean_load(server: FaultServer, codes_file: Path) -> Fingerprint:
    """The fingerprint of the same load on an empty graph, nothing interrupted; the graph is left empty."""
    with server.driver() as driver:
        empty_graph(driver)
        done = server.cli(*load_args(codes_file))
        assert done.returncode == 0, done.stderr
        assert [r["status"] for r in runs(driver)] == ["completed"]
        clean = fingerprint(driver)
        empty_graph(driver)
    assert clean.labels.get("ICD10CMCode") == CODES
    return clean


@pytest.fixture(scope="session")
def loads_server() -> Iterator[FaultServer]:
    server = FaultServer.create("loads", 0)
    server.start()
    try:
        yield server
    finally:
        server.stop()
