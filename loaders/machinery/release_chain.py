"""Which chain of ranges a release joins: the planner shared by code systems and NCCI PTP.

A release stored as ranges writes only what changed against the newest release of its chain, and readers find
what is valid in it through its scope: the ids of the chain's releases up to and including it. How a load
writes its release (the plan):

- ``first``: no chain yet; the release is written in full and starts one;
- ``diff``: the release follows the newest chain release, its scope that one's plus its own id;
- ``own``: a back-fill (older than the newest chain release), written in full and read by its own id;
- ``reload``: the release is in the graph already (the same files loaded again), as it was laid out.

Each kind of ranged content keeps its layout and scope in Release properties of its own (``code_layout`` and
``code_scope``, ``ptp_layout`` and ``ptp_scope``), named by a prefix: the names come from this module's callers,
never from input. A release written before ranges existed has no layout. NCCI PTP takes the newest such release
up as its chain's start; a code system leaves it to be read by its own id and starts a chain beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from neo4j import Driver

from loaders.errors import LoadError
from ontology.release_ranges import CODE_PREFIX, release_scope
from ontology.vocabulary import L

CHAIN = "chain"  # <prefix>_layout of a chain release (it has a <prefix>_scope)
OWN = "own"  # written in full and read by its own id (a back-fill)


@dataclass(frozen=True)
class ChainPlan:
    kind: str  # first | diff | own | reload
    scope: list[str]  # the release's scope once loaded (own / reload of a legacy release: its own id)
    previous: str | None = None  # diff: the chain release compared against
    upgraded: str | None = None  # a release written before ranges, made the chain's start by this load
    layout: str | None = None  # reload: the release's layout as it is (chain, own, or None: before ranges)


def _day(value: Any) -> date:
    return value.to_native() if value is not None else date.min


@dataclass(frozen=True)
class ReleaseChain:
    """One kind of ranged content: the prefix of its Release properties, and whether a release written before
    ranges is taken up as the start of a chain."""

    prefix: str
    upgrades_legacy: bool = False

    def scope(self, var: str) -> str:
        """Cypher: the scope of the Release bound to ``var`` (a release before ranges: its own id)."""
        return release_scope(var, self.prefix)

    def plan(self, driver: Driver, database: str, system: str, release_id: str, effective_from: date | None,
             fresh: bool) -> ChainPlan:
        """How the release is written, from the system's releases in the graph (see the module doc)."""
        records, _, _ = driver.execute_query(
            f"""MATCH (r:{L.Release} {{system: $system}})
            RETURN r.id AS id, r.status AS status, r.effective_from AS effective_from,
                   r.{self.prefix}_layout AS layout, {self.scope('r')} AS scope""",
            system=system, database_=database, routing_="r")
        releases = [r.data() for r in records]
        if not fresh:
            mine = next((r for r in releases if r["id"] == release_id), {})
            return ChainPlan("reload", list(mine.get("scope") or [release_id]), layout=mine.get("layout"))
        starts = effective_from or date.min
        others = [r for r in releases if r["id"] != release_id]
        chain = [r for r in others if r["layout"] == CHAIN]
        upgraded = None
        if not chain and self.upgrades_legacy:
            legacy = [r for r in others if r["layout"] is None and r["status"] != "staging"]
            if legacy:
                newest = max(legacy, key=lambda r: (_day(r["effective_from"]), r["id"]))
                if _day(newest["effective_from"]) > starts:
                    return ChainPlan(OWN, [release_id])
                upgraded, chain = newest["id"], [newest]  # its scope reads [its id] already
        if not chain:
            return ChainPlan("first", [release_id])
        # The newest chain release: latest in force, and among corrections of one period the one chained last.
        previous = max(chain, key=lambda r: (_day(r["effective_from"]), len(r["scope"])))
        if _day(previous["effective_from"]) > starts:
            return ChainPlan(OWN, [release_id])
        if previous["status"] == "staging":
            raise LoadError(f"{previous['id']} is being loaded by another run: load {release_id} once it is done")
        return ChainPlan("diff", [*previous["scope"], release_id], previous=previous["id"], upgraded=upgraded)

    def record(self, driver: Driver, database: str, release_id: str, chosen: ChainPlan) -> None:
        """Mark the releases before writing (readers use the layout and scope): a release taken up into the
        chain, then this one. A reload leaves both as they are."""
        set_layout = (f"MATCH (rel:{L.Release} {{id: $id}}) "
                      f"SET rel.{self.prefix}_layout = $layout, rel.{self.prefix}_scope = $scope")
        if chosen.upgraded is not None:
            driver.execute_query(set_layout, id=chosen.upgraded, layout=CHAIN, scope=[chosen.upgraded],
                                 database_=database)
        if chosen.kind == "reload":
            return
        layout, scope = (OWN, None) if chosen.kind == OWN else (CHAIN, chosen.scope)
        driver.execute_query(set_layout, id=release_id, layout=layout, scope=scope, database_=database)


# A code system's releases keep their layout and scope in ``code_layout`` and ``code_scope``; a release written in
# full before ranges is read by its own id, and the system starts a chain beside it (loaders/machinery/code_ranges.py).
CODE_CHAIN = ReleaseChain(CODE_PREFIX)  # the prefix the readers' code_scope reads
# NCCI PTP releases keep theirs in ``ptp_layout`` and ``ptp_scope``; the newest release written before ranges is
# taken up as the chain's start (loaders/ncci/ptp_ranges.py).
PTP_CHAIN = ReleaseChain("ptp", upgrades_legacy=True)
CHAINS = (CODE_CHAIN, PTP_CHAIN)
