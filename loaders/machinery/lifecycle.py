"""A release after promotion: retracted when it proves wrong, kept for audit, its id free for corrected files.

``retract`` takes a visible release out of service at once: its status becomes ``retracted`` (every query reads
visible releases only, and the release catalog's change token includes the status, so services drop it within
their poll interval — this process at once). Nothing it wrote is deleted: its memberships, edges and load runs
stay for audit, and ``assignments_under`` lists the coding assignments whose codes were checked against it.

When corrected files are loaded under the same release id, ``archive`` first renames the retracted release to
``<id>#retracted-<timestamp>`` — the node, every relationship stamped with its id, the NCCI PTP ranges it closed
and the scopes naming it, and the nodes its runs keyed by it (``mue|…`` keys start with the release id) — so the
new load starts from nothing under that id, as a fresh release does, while the retracted one stays queryable
under its archived id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from neo4j import Driver, RoutingControl

from codegraph.release_events import releases_changed
from loaders.machinery import ranged
from loaders.machinery.code_release import SET_NEWEST_TITLE
from loaders.machinery.runs import RETRACTED
from ontology.code_systems import SYSTEMS
from ontology.vocabulary import NODE_SPECS, L, R

RELEASE_AND_RUNS = f"""
MATCH (rel:{L.Release} {{id: $id}})
OPTIONAL MATCH (rel)-[:{R.PRODUCED_BY}]->(run:{L.LoadRun})
WITH rel, run ORDER BY run.started_at
RETURN rel {{.*}} AS release, collect(run {{.id, .status, .started_at, .finished_at, .source_files}}) AS runs
"""

RETRACT = f"""
MATCH (rel:{L.Release} {{id: $id, status: 'visible'}})
SET rel.status = '{RETRACTED}', rel.retracted_at = datetime(), rel.retracted_reason = $reason,
    rel.retracted_by = $by
RETURN rel.id AS id
"""

# Node titles are denormalised from each code's newest visible release (code_release.REFRESH_TITLES); the codes of
# a retracted release take theirs from the newest visible release that still lists them.
REFRESH_TITLES_AFTER_RETRACTION = f"""
MATCH (rel:{L.Release} {{id: $id}})<-[:{R.IN_RELEASE}]-(c:{L.Code})
CALL (c, rel) {{
{SET_NEWEST_TITLE}
}} IN TRANSACTIONS OF 10000 ROWS
"""

# The assignments whose codes were checked against the release: open (not superseded) assignments that assign a
# code of its system on an encounter whose date of service falls in its effective window.
ASSIGNMENTS_UNDER = f"""
MATCH (rel:{L.Release} {{id: $id}})
MATCH (e:{L.Encounter})-[:{R.HAS_ASSIGNMENT}]->(a:{L.CodingAssignment})-[:{R.HAS_CODE}]->(ac:{L.AssignedCode})
      -[:{R.ASSIGNS}]->(c:{L.Code} {{system: rel.system}})
WHERE NOT EXISTS {{ (:{L.CodingAssignment})-[:{R.SUPERSEDES}]->(a) }}
WITH rel, e, a, collect(DISTINCT c.code) AS codes, date(coalesce(e.period_end, e.period_start)) AS served
WHERE served IS NOT NULL AND (rel.effective_from IS NULL OR served >= rel.effective_from)
  AND (rel.effective_to IS NULL OR served < rel.effective_to)
WITH e, a, codes, served ORDER BY served, a.id
WITH count(*) AS total, collect({{assignment: a.id, encounter: e.id, status: a.status, date_of_service: served,
                                  codes: codes}})[..$limit] AS listed
RETURN total, listed
"""


class ReleaseStateError(Exception):
    """The release is not in the state the operation needs (not found, or not visible)."""


@dataclass
class RetractedRelease:
    id: str
    system: str
    version: str
    retracted_at: str
    reason: str | None
    retracted_by: str | None
    load_runs: list[dict[str, Any]] = field(default_factory=list)
    assignments_total: int = 0
    assignments: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _read(driver: Driver, database: str, cypher: str, **params: Any) -> list[Any]:
    records, _, _ = driver.execute_query(cypher, params, database_=database, routing_=RoutingControl.READ)
    return records


def release_and_runs(driver: Driver, database: str, release_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = _read(driver, database, RELEASE_AND_RUNS, id=release_id)
    if not rows:
        raise ReleaseStateError(f"release {release_id!r} is not in the graph")
    runs = [{k: (str(v) if k in ("started_at", "finished_at") and v is not None else v) for k, v in r.items()}
            for r in rows[0]["runs"]]
    return dict(rows[0]["release"]), runs


def assignments_under(driver: Driver, database: str, release_id: str, limit: int = 1000) -> tuple[int, list[dict]]:
    """(how many, the first ``limit`` by date of service) open assignments checked against the release."""
    rows = _read(driver, database, ASSIGNMENTS_UNDER, id=release_id, limit=limit)
    if not rows:
        return 0, []
    listed = [{**r, "date_of_service": r["date_of_service"].iso_format(), "codes": sorted(r["codes"])}
              for r in rows[0]["listed"]]
    return rows[0]["total"], listed


def retract(driver: Driver, database: str, release_id: str, *, reason: str | None = None, by: str | None = None,
            limit: int = 1000) -> RetractedRelease:
    """Take a visible release out of service; everything it wrote stays (for audit) under its id."""
    release, _ = release_and_runs(driver, database, release_id)
    if release.get("status") != "visible":
        raise ReleaseStateError(f"release {release_id!r} is {release.get('status')}, not visible: only a visible "
                                "release can be retracted")
    records, _, _ = driver.execute_query(RETRACT, id=release_id, reason=reason, by=by, database_=database)
    if not records:  # retracted or discarded by someone else between the two statements
        raise ReleaseStateError(f"release {release_id!r} is no longer visible")
    releases_changed()  # services in this process stop serving it on their next request
    if release.get("system") in SYSTEMS:
        with driver.session(database=database) as session:
            session.run(REFRESH_TITLES_AFTER_RETRACTION, id=release_id).consume()
    release, runs = release_and_runs(driver, database, release_id)
    total, listed = assignments_under(driver, database, release_id, limit)
    return RetractedRelease(
        id=release_id, system=release["system"], version=release["version"],
        retracted_at=str(release["retracted_at"]), reason=reason, retracted_by=by, load_runs=runs,
        assignments_total=total, assignments=listed,
    )


def archive(driver: Driver, database: str, release_id: str) -> str:
    """Rename a retracted release (node, stamped relationships, nodes keyed by its id) so that ``release_id`` is
    free for corrected files; returns the archived id. Idempotent up to the rename itself."""
    release, runs = release_and_runs(driver, database, release_id)
    if release.get("status") != RETRACTED:
        raise ReleaseStateError(f"release {release_id!r} is {release.get('status')}, not retracted")
    archived = f"{release_id}#retracted-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    run_ids = [r["id"] for r in runs]
    with driver.session(database=database) as session:
        # Relationships first (the release's memberships and edges, its runs' PRODUCED_BY), in batches.
        session.run(
            "MATCH ()-[r]->() WHERE r.release = $id CALL (r) { SET r.release = $archived } IN TRANSACTIONS OF "
            "20000 ROWS", id=release_id, archived=archived,
        ).consume()
        ranged.archive(session, release_id, archived)  # the ranges it closed and the scopes that name it
        for label, spec in NODE_SPECS.items():
            if not spec.key or label in (L.LoadRun, L.Release):
                continue
            session.run(
                f"MATCH (n:`{label}`) WHERE n.load_run IN $runs AND n.`{spec.key}` STARTS WITH $prefix "
                f"CALL (n) {{ SET n.`{spec.key}` = $archived + substring(n.`{spec.key}`, size($id)) }} "
                "IN TRANSACTIONS OF 20000 ROWS",
                runs=run_ids, prefix=f"{release_id}|", id=release_id, archived=archived,
            ).consume()
        session.run(
            f"""MATCH (rel:{L.Release} {{id: $id}})
                SET rel.id = $archived, rel.archived_from = $id, rel.archived_at = datetime()
                WITH rel MATCH (rel)-[:{R.PRODUCED_BY}]->(run:{L.LoadRun}) SET run.release = $archived""",
            id=release_id, archived=archived,
        ).consume()
    releases_changed()
    return archived
