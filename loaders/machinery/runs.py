"""LoadRun and Release nodes: provenance, staging, promotion and clean-up of failed runs.

A release is written under status ``staging`` and becomes ``visible`` only when its load
completes; every query reads through visible releases, so a failed or running load is
never seen. A failed run's relationships and nodes are deleted by its ``load_run`` stamp.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from neo4j import Driver

from codegraph.release_events import releases_changed
from loaders.errors import LoadError
from loaders.machinery import ranged
from ontology.vocabulary import NODE_SPECS, L, R

VISIBLE = "visible"
STAGING = "staging"
RETRACTED = "retracted"  # taken out of service (loaders.machinery.lifecycle); kept for audit


class LoadInterruptedError(LoadError):
    """The load was interrupted (Ctrl-C): what it wrote was removed and its run recorded as interrupted."""


@dataclass(frozen=True)
class SourceFile:
    path: Path
    size: int
    sha256: str

    @classmethod
    def of(cls, path: Path) -> SourceFile:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return cls(path=path, size=path.stat().st_size, sha256=digest.hexdigest())

    def describe(self) -> str:
        return f"{self.path.name}|{self.size}|{self.sha256}"


def same_contents(recorded: set[str], files: list[SourceFile]) -> bool:
    """Whether the files hold exactly the recorded contents (sizes and sha256s; names may differ)."""
    return {d.rsplit("|", 2)[-1] for d in recorded} == {f.sha256 for f in files} and len(recorded) == len(files)


@dataclass(frozen=True)
class ReleaseSpec:
    """What a maintainer names on the command line: ``--release FY2026``."""

    system: str
    version: str
    effective_from: date | None = None
    effective_to: date | None = None
    note: str | None = None

    @property
    def id(self) -> str:
        return f"{self.system}@{self.version}"

    @classmethod
    def parse(cls, system: str, version: str, note: str | None = None) -> ReleaseSpec:
        """The effective window a version names: ``FY2026`` (Oct 1 2025 – Oct 1 2026, ICD-10, MS-DRG),
        ``2026Q2`` (Apr 1 – Jul 1 2026: NCCI, HCPCS), ``2026`` (calendar year: CPT), ``20250301`` or
        ``2025-03-01`` (in force from that day: SNOMED CT, MCD exports); anything else has no window."""
        v = version.strip()
        if m := re.fullmatch(r"FY(\d{4})", v, flags=re.IGNORECASE):
            year = int(m.group(1))
            return cls(system, v.upper(), date(year - 1, 10, 1), date(year, 10, 1), note)
        if m := re.fullmatch(r"(\d{4})Q([1-4])", v, flags=re.IGNORECASE):
            year, quarter = int(m.group(1)), int(m.group(2))
            start = date(year, 3 * quarter - 2, 1)
            end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
            return cls(system, v.upper(), start, end, note)
        if re.fullmatch(r"\d{4}", v):
            return cls(system, v, date(int(v), 1, 1), date(int(v) + 1, 1, 1), note)
        if m := re.fullmatch(r"(\d{4})-?(\d{2})-?(\d{2})", v):
            try:
                return cls(system, v, date(int(m.group(1)), int(m.group(2)), int(m.group(3))), None, note)
            except ValueError:
                pass
        return cls(system, v, None, None, note)


def new_run_id(loader: str) -> str:
    return f"{loader}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


class RunLedger:
    """Reads and writes LoadRun/Release nodes for one database."""

    def __init__(self, driver: Driver, database: str) -> None:
        self.driver = driver
        self.database = database

    def _write(self, cypher: str, **params: Any) -> list[Any]:
        records, _, _ = self.driver.execute_query(cypher, params, database_=self.database)
        return records

    def _read(self, cypher: str, **params: Any) -> list[Any]:
        records, _, _ = self.driver.execute_query(cypher, params, database_=self.database, routing_="r")
        return records

    def start(self, run_id: str, loader: str, release: ReleaseSpec | None, files: list[SourceFile]) -> None:
        self._write(
            f"""
            CREATE (r:{L.LoadRun} {{id: $id, loader: $loader, release: $release, status: 'running',
                    started_at: datetime(), host: $host, pid: $pid, source_files: $files}})
            """,
            id=run_id, loader=loader, release=release.id if release else None,
            host=socket.gethostname(), pid=os.getpid(), files=[f.describe() for f in files],
        )

    def finish(self, run_id: str, status: str, counts: dict[str, Any], error: str | None = None) -> None:
        self._write(
            f"""
            MATCH (r:{L.LoadRun} {{id: $id}})
            SET r.status = $status, r.finished_at = datetime(), r.counts = $counts, r.error = $error
            """,
            id=run_id, status=status, counts=json.dumps(counts, sort_keys=True, default=str), error=error,
        )

    def release_state(self, release_id: str) -> dict[str, Any] | None:
        rows = self._read(
            f"""
            MATCH (rel:{L.Release} {{id: $id}})
            OPTIONAL MATCH (rel)-[:{R.PRODUCED_BY}]->(run:{L.LoadRun})
            WITH rel, run ORDER BY run.finished_at DESC
            RETURN rel.status AS status, collect(run.source_files) AS files,
                   [r IN collect(run) WHERE r.status = 'completed' | r.id][0] AS last_run
            """,
            id=release_id,
        )
        return dict(rows[0]) if rows else None

    def stage_release(self, run_id: str, spec: ReleaseSpec, system_name: str) -> bool:
        """Create the release as staging (or keep a visible one as it is) and link it to this run.

        Returns whether this run created the release: everything the release says is then new, so loaders
        CREATE its memberships and edges instead of MERGEing them (``LoadContext.fresh_release``)."""
        records = self._write(
            f"""
            MERGE (cs:{L.CodeSystem} {{id: $system}})
              ON CREATE SET cs.name = $system_name, cs.load_run = $run
            MERGE (rel:{L.Release} {{id: $id}})
              ON CREATE SET rel.status = '{STAGING}', rel.load_run = $run, rel.system = $system,
                            rel.version = $version, rel.effective_from = $from, rel.effective_to = $to,
                            rel.note = $note
            MERGE (rel)-[ro:{R.RELEASE_OF}]->(cs)
              ON CREATE SET ro.release = $id, ro.load_run = $run
            WITH rel
            MATCH (run:{L.LoadRun} {{id: $run}})
            MERGE (rel)-[p:{R.PRODUCED_BY}]->(run)
              ON CREATE SET p.release = $id, p.load_run = $run
            RETURN rel.load_run = $run AS fresh
            """,
            id=spec.id, system=spec.system, system_name=system_name, version=spec.version,
            run=run_id, note=spec.note,
            **{"from": spec.effective_from, "to": spec.effective_to},
        )
        return bool(records and records[0]["fresh"])

    def promote(self, spec: ReleaseSpec) -> None:
        self._write(
            f"MATCH (rel:{L.Release} {{id: $id}}) SET rel.status = '{VISIBLE}', rel.visible_since = datetime()",
            id=spec.id,
        )
        releases_changed()

    def discard_run(self, run_id: str) -> dict[str, int]:
        """Delete everything the run created (relationships first, then nodes); idempotent."""
        deleted = {"relationships": 0, "nodes": 0}
        with self.driver.session(database=self.database) as session:
            ranged.reopen(session, run_id)  # what the run closed of ranges stored over several releases
            # One pass over the relationships, committed in batches: a LIMIT loop rescanned the store from its
            # start for every batch, which made the clean-up after Ctrl-C the slow part of stopping a load.
            summary = session.run(
                "MATCH ()-[r]->() WHERE r.load_run = $run CALL (r) { DELETE r } IN TRANSACTIONS OF 20000 ROWS",
                run=run_id,
            ).consume()
            deleted["relationships"] += summary.counters.relationships_deleted
            # Every keyed label's load_run index in one statement (one round trip, not one per label).
            seeks = " UNION ".join(f"MATCH (n:`{label}`) WHERE n.load_run = $run RETURN n"
                                   for label, spec in NODE_SPECS.items() if spec.key and label != L.LoadRun)
            summary = session.run(
                f"CALL () {{ {seeks} }} CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF 20000 ROWS", run=run_id,
            ).consume()
            deleted["nodes"] += summary.counters.nodes_deleted
        releases_changed()
        return deleted

    def stale_runs(self) -> list[str]:
        """Runs still marked running whose process on this host is gone (crashed loads)."""
        rows = self._read(
            f"MATCH (r:{L.LoadRun} {{status: 'running'}}) RETURN r.id AS id, r.host AS host, r.pid AS pid"
        )
        stale = []
        for row in rows:
            if row["host"] == socket.gethostname() and not _pid_alive(row["pid"]):
                stale.append(row["id"])
        return stale

    def visible_releases(self, system: str | None = None, *, retracted: bool = False) -> list[dict[str, Any]]:
        """Visible releases; with ``retracted`` also the retracted ones (kept for audit, archived ids included)."""
        rows = self._read(
            f"""
            MATCH (rel:{L.Release}) WHERE rel.status = '{VISIBLE}' OR ($retracted AND rel.status = '{RETRACTED}')
            WITH rel WHERE $system IS NULL OR rel.system = $system
            RETURN rel {{.*}} AS rel ORDER BY rel.system, rel.effective_from, rel.version, rel.id
            """,
            system=system, retracted=retracted,
        )
        return [dict(r["rel"]) for r in rows]


def _pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
