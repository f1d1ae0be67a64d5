"""The visible releases, read once per change instead of once per request, and which one a query reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from graph_service.errors import NotFound
from graph_service.models.releases import ReleaseInfo
from ontology.vocabulary import L

LIST_RELEASES = f"""
MATCH (r:{L.Release} {{status: 'visible'}})
OPTIONAL MATCH (r)-[:PRODUCED_BY]->(run:{L.LoadRun} {{status: 'completed'}})
WITH r, run ORDER BY run.finished_at DESC
WITH r, head(collect(run)) AS run
RETURN r.id AS id, r.system AS system, r.version AS version, r.effective_from AS effective_from,
       r.effective_to AS effective_to, r.note AS note, run.id AS load_run, run.finished_at AS loaded_at
ORDER BY r.system, r.effective_from, r.version
"""


# What changes when a release is staged, promoted, retracted, reloaded or discarded: polled cheaply, and the
# catalog itself is re-read only when this changes.
CATALOG_TOKEN = f"""
MATCH (r:{L.Release})
RETURN collect([r.id, r.status, toString(r.visible_since), r.load_run]) AS token
"""


@dataclass(frozen=True)
class ReleaseCatalog:
    """An immutable snapshot of the visible releases; ``fingerprint(system)`` changes exactly when a
    release of that system is promoted, retracted, discarded or reloaded under a new load run."""

    releases: tuple[ReleaseInfo, ...]
    _by_system: dict[str, list[ReleaseInfo]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_system: dict[str, list[ReleaseInfo]] = {}
        for info in self.releases:
            by_system.setdefault(info.system, []).append(info)
        object.__setattr__(self, "_by_system", by_system)

    def of(self, system: str | None = None) -> list[ReleaseInfo]:
        if system is None:
            return list(self.releases)
        return list(self._by_system.get(system, ()))

    def fingerprint(self, *systems: str) -> tuple[tuple[str, str | None], ...]:
        return tuple((r.id, r.load_run) for s in systems for r in self._by_system.get(s, ()))

    def resolve(self, system: str, release: str | None = None, on: date | None = None) -> ReleaseInfo:
        """The release a query reads: ``release`` if given (must be visible), else the one in force on ``on``
        (default today), else the newest visible release of the system."""
        releases = self._by_system.get(system, [])
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
            return max(in_force, key=_newest)
        if on is not None:
            raise NotFound(f"no {system} release in force on {on.isoformat()}; loaded: {[r.id for r in releases]}")
        return max(releases, key=_newest)


def _newest(info: ReleaseInfo) -> tuple[date, str]:
    return info.effective_from or date.min, info.version
