"""Servers the fault tests may break: their own local Neo4j (never the session's), the CLI as a subprocess,
and the graph fingerprint a rerun after a fault must reproduce.

Where they live: ``CODEGRAPH_FAULT_STATE_ROOT`` (default ``state/faults``), one state dir per server, and
``CODEGRAPH_FAULT_BOLT_PORTS`` (comma separated; default: free ports picked at start).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neo4j import Driver

from bench.served import free_port
from codegraph.db import empty_graph, open_driver
from codegraph.runtime.local_server import LocalNeo4j
from codegraph.settings import Settings

REPO = Path(__file__).resolve().parents[2]
CODEGRAPH = str(Path(sys.executable).parent / "codegraph")
STATE_ROOT = Path(os.environ.get("CODEGRAPH_FAULT_STATE_ROOT", REPO / "state" / "faults"))
# Env that would point a subprocess at another Neo4j (CI exports the session server's NEO4J_*).
_FOREIGN_ENV = ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_DATABASE", "CODEGRAPH_STATE_DIR",
                "CODEGRAPH_BOLT_PORT", "CODEGRAPH_NEO4J_HEAP", "CODEGRAPH_NEO4J_PAGECACHE")


def fault_port(index: int) -> int:
    ports = [p for p in os.environ.get("CODEGRAPH_FAULT_BOLT_PORTS", "").split(",") if p.strip()]
    return int(ports[index]) if index < len(ports) else free_port()


@dataclass
class FaultServer:
    """A local Neo4j owned by one fault test module: started, killed, restarted at will."""

    name: str
    settings: Settings

    @classmethod
    def create(cls, name: str, index: int, heap: str = "512m", pagecache: str = "128m") -> FaultServer:
        state = STATE_ROOT / name
        # NEO4J_URI/PASSWORD in the environment (CI exports the session server's) must not point it elsewhere.
        settings = Settings(NEO4J_URI=None, NEO4J_PASSWORD=None, NEO4J_USER="neo4j", NEO4J_DATABASE="neo4j",
                            CODEGRAPH_STATE_DIR=state, CODEGRAPH_BOLT_PORT=fault_port(index),
                            CODEGRAPH_NEO4J_HEAP=heap, CODEGRAPH_NEO4J_PAGECACHE=pagecache)
        return cls(name, settings)

    @property
    def local(self) -> LocalNeo4j:
        return LocalNeo4j(self.settings)

    @property
    def env(self) -> dict[str, str]:
        """The environment of a CLI subprocess that should use this server (and nothing else)."""
        env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_ENV}
        env.update({"CODEGRAPH_STATE_DIR": str(self.settings.state_dir),
                    "CODEGRAPH_BOLT_PORT": str(self.settings.local_bolt_port),
                    "CODEGRAPH_NEO4J_HEAP": self.settings.local_heap,
                    "CODEGRAPH_NEO4J_PAGECACHE": self.settings.local_pagecache,
                    "COLUMNS": "200", "NO_COLOR": "1"})
        return env

    def start(self) -> None:
        self.local.start()

    def pid(self) -> int | None:
        return self.local.status().pid

    def kill9(self) -> None:
        pid = self.pid()
        assert pid is not None, f"{self.name}: no server to kill"
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: self.local.status().pid is None, 30, f"{self.name} (pid {pid}) to die")

    def stop(self) -> None:
        self.local.stop()

    def driver(self) -> Driver:
        return open_driver(self.settings, retry_s=5.0)

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([CODEGRAPH, *args], capture_output=True, text=True, env=self.env, cwd=REPO,
                              timeout=timeout, check=False)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([CODEGRAPH, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env, cwd=REPO)


@contextmanager
def running(server: FaultServer) -> Iterator[FaultServer]:
    """The server up for a module, wiped first; stopped afterwards (it is ours alone)."""
    server.start()
    with server.driver() as driver:
        empty_graph(driver)
    try:
        yield server
    finally:
        server.stop()


def wait_until(check: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def run_writing(driver: Driver, loader: subprocess.Popen[str], before: str, extra: Callable[[], None] = lambda: None,
                timeout_s: float = 240) -> str:
    """The id of the load run that ``loader`` started, once it has written rows (the moment to inject a fault);
    fails if the load ends first (``before`` says what it should not have ended before)."""
    def writing() -> str | None:
        assert loader.poll() is None, f"the load ended before {before}: {loader.communicate()}"
        extra()
        running = [r["id"] for r in runs(driver) if r["status"] == "running"]
        return running[0] if running and rows_of_run(driver, running[0]) > 0 else None

    return wait_until(writing, timeout_s, "the load to write its first batches")


# ---- what a rerun must reproduce -----------------------------------------------------------------------------
# Provenance that differs between two correct loads of the same files: run ids and timestamps.
_VOLATILE = ("load_run", "visible_since", "started_at", "finished_at")


@dataclass(frozen=True)
class Fingerprint:
    """Node counts per label and relationship counts per type (load runs aside), and a sha256 over every node's
    and relationship's labels/type, endpoints and properties (less run ids and timestamps)."""

    labels: dict[str, int]
    types: dict[str, int]
    sha256: str

    def __str__(self) -> str:
        return (f"nodes {sum(self.labels.values())} {dict(sorted(self.labels.items()))}, "
                f"relationships {sum(self.types.values())} {dict(sorted(self.types.items()))}, "
                f"sha256 {self.sha256[:16]}")


def fingerprint(driver: Driver) -> Fingerprint:
    labels, _, _ = driver.execute_query(
        "MATCH (n) WHERE NOT n:LoadRun UNWIND labels(n) AS label RETURN label, count(*) AS n")
    types, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) WHERE NOT b:LoadRun RETURN type(r) AS type, count(*) AS n")
    digest = hashlib.sha256()
    nodes, _, _ = driver.execute_query(
        "MATCH (n) WHERE NOT n:LoadRun RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS props")
    ident: dict[str, str] = {}
    lines = []
    for rec in nodes:
        line = _describe(sorted(rec["labels"]), rec["props"])
        ident[rec["id"]] = line
        lines.append("node " + line)
    rels, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) WHERE NOT b:LoadRun "
        "RETURN elementId(a) AS a, type(r) AS type, properties(r) AS props, elementId(b) AS b")
    for rec in rels:
        lines.append(f"rel {ident[rec['a']]} -{_describe([rec['type']], rec['props'])}-> {ident[rec['b']]}")
    for line in sorted(lines):
        digest.update(line.encode() + b"\n")
    return Fingerprint({r["label"]: r["n"] for r in labels}, {r["type"]: r["n"] for r in types},
                       digest.hexdigest())


def _describe(names: list[str], props: dict[str, Any]) -> str:
    kept = {k: v for k, v in props.items() if k not in _VOLATILE}
    return ":".join(names) + " {" + ", ".join(f"{k}: {kept[k]!r}" for k in sorted(kept)) + "}"


def runs(driver: Driver) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(
        "MATCH (r:LoadRun) RETURN r.id AS id, r.status AS status, r.error AS error, r.release AS release "
        "ORDER BY r.started_at")
    return [dict(r) for r in records]


def release_status(driver: Driver, release_id: str) -> str | None:
    records, _, _ = driver.execute_query("MATCH (r:Release {id: $id}) RETURN r.status AS status", id=release_id)
    return records[0]["status"] if records else None


def rows_of_run(driver: Driver, run_id: str) -> int:
    records, _, _ = driver.execute_query(
        "CALL () { MATCH (n) WHERE n.load_run = $run RETURN count(n) AS n } "
        "CALL () { MATCH ()-[r]->() WHERE r.load_run = $run RETURN count(r) AS r } RETURN n + r AS total",
        run=run_id)
    return int(records[0]["total"])


# ---- a release big enough to be caught mid-load, in the official layout -----------------------------------
def icd10cm_codes_excerpt(directory: Path, codes: int) -> Path:
    """The first ``codes`` lines of the bundled FY2024 ICD-10-CM code list, as the official file lays them out."""
    from loaders.bundled import bundled_datasets

    source = next(ds.paths[0] for ds in bundled_datasets() if ds.source == "icd10cm" and ds.version == "FY2024")
    out = directory / source.name
    with source.open() as src, out.open("w") as dst:
        for _, line in zip(range(codes), src, strict=False):
            dst.write(line)
    return out
