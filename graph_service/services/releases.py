"""Which release a query reads: an explicit visible release, the one in force on a date, or current."""

from __future__ import annotations

from datetime import date

from graph_service.errors import NotFound
from graph_service.graph import Graph
from graph_service.models.releases import ReleaseDiffOut, ReleaseInfo
from loaders.machinery.release_diff import diff_releases
from ontology.vocabulary import L

_VISIBLE = f"MATCH (r:{L.Release} {{status: 'visible'}})"

LIST_RELEASES = f"""
{_VISIBLE}
WHERE $system IS NULL OR r.system = $system
OPTIONAL MATCH (r)-[:PRODUCED_BY]->(run:{L.LoadRun} {{status: 'completed'}})
WITH r, run ORDER BY run.finished_at DESC
WITH r, head(collect(run)) AS run
RETURN r.id AS id, r.system AS system, r.version AS version, r.effective_from AS effective_from,
       r.effective_to AS effective_to, r.note AS note, run.id AS load_run, run.finished_at AS loaded_at
ORDER BY r.system, r.effective_from, r.version
"""


def list_releases(graph: Graph, system: str | None = None) -> list[ReleaseInfo]:
    return [ReleaseInfo.from_row(row) for row in graph.read(LIST_RELEASES, system=system)]


def resolve_release(graph: Graph, system: str, release: str | None = None, on: date | None = None) -> ReleaseInfo:
    """The release a query reads: ``release`` if given (must be visible), else the one in force on ``on``
    (default today), else the newest visible release of the system."""
    releases = list_releases(graph, system)
    if not releases:
        raise NotFound(f"no visible {system} release is loaded")
    if release is not None:
        wanted = release if "@" in release else f"{system}@{release}"
        for info in releases:
            if info.id.lower() == wanted.lower():
                return info
        raise NotFound(f"release {wanted!r} is not loaded or not visible; loaded: {[r.id for r in releases]}")
    when = on or date.today()
    in_force = [r for r in releases if r.covers(when)]
    if in_force:
        return max(in_force, key=lambda r: (r.effective_from or date.min, r.version))
    if on is not None:
        raise NotFound(f"no {system} release in force on {on.isoformat()}; loaded: {[r.id for r in releases]}")
    return max(releases, key=lambda r: (r.effective_from or date.min, r.version))


def release_diff(graph: Graph, system_id: str, from_version: str, to_version: str, limit: int) -> ReleaseDiffOut:
    """Codes added, deleted, retitled and with billable status changed between two visible releases."""
    old = resolve_release(graph, system_id, from_version)
    new = resolve_release(graph, system_id, to_version)
    diff = diff_releases(graph.driver, graph.database, system_id, old.id, new.id)
    return ReleaseDiffOut(
        system=system_id, from_release=old.id, to_release=new.id, scope=diff.scope, counts=diff.counts(),
        added=diff.added[:limit], deleted=diff.deleted[:limit], title_revised=diff.title_revised[:limit],
        billable_changed=diff.billable_changed[:limit], truncated_to=limit,
    )
