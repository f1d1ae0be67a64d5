"""Which release a query reads: an explicit visible release, the one in force on a date, or current."""

from __future__ import annotations

from datetime import date

from graph_service.errors import NotFound, ServiceError
from graph_service.graph import Graph
from graph_service.models.releases import ReleaseDiffOut, ReleaseInfo, RetractOut, TitleRevisionOut
from loaders.machinery import lifecycle
from loaders.machinery.release_diff import diff_releases


class ReleaseNotInService(ServiceError):
    status, title, type = 409, "Release not in service", "/problems/release-state"


def list_releases(graph: Graph, system: str | None = None) -> list[ReleaseInfo]:
    return graph.reference.catalog().of(system)


def resolve_release(graph: Graph, system: str, release: str | None = None, on: date | None = None) -> ReleaseInfo:
    """The release a query reads (see ``ReleaseCatalog.resolve``), from the catalog held in process."""
    return graph.reference.catalog().resolve(system, release, on)


def release_diff(graph: Graph, system_id: str, from_version: str, to_version: str, limit: int) -> ReleaseDiffOut:
    """Codes added, deleted, retitled and with billable status changed between two visible releases."""
    old = resolve_release(graph, system_id, from_version)
    new = resolve_release(graph, system_id, to_version)
    diff = diff_releases(graph.driver, graph.database, system_id, old.id, new.id)
    return ReleaseDiffOut(
        system=system_id, from_release=old.id, to_release=new.id, scope=diff.scope, counts=diff.counts(),
        added=diff.added[:limit], deleted=diff.deleted[:limit],
        expanded=dict(list(diff.expanded.items())[:limit]), made_non_billable=diff.made_non_billable[:limit],
        title_revised=[TitleRevisionOut(**t.as_dict()) for t in diff.title_revised[:limit]],
        billable_changed=diff.billable_changed[:limit], truncated_to=limit,
    )


def retract_release(graph: Graph, release_id: str, reason: str | None, by: str, limit: int) -> RetractOut:
    """Take a visible release out of service (kept for audit); its table and catalog entry stop being served."""
    try:
        out = lifecycle.retract(graph.driver, graph.database, release_id, reason=reason, by=by, limit=limit)
    except lifecycle.ReleaseStateError as exc:
        if "not in the graph" in str(exc):
            raise NotFound(str(exc)) from exc
        raise ReleaseNotInService(str(exc)) from exc
    graph.reference.refresh()  # this worker's catalog now, not at its next poll
    return RetractOut(**out.as_dict())
