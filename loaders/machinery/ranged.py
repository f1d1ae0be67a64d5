"""Upkeep of every relationship stored over a range of releases (``ontology/release_ranges.py``): what a discarded
run closed is current again, and an archived release's id is renamed where ranges and scopes name it."""

from __future__ import annotations

from neo4j import Session

from loaders.machinery.release_chain import CHAINS
from ontology.release_ranges import RANGED_CODE_EDGES
from ontology.vocabulary import L, R

# Code memberships and the edges a code release writes, and NCCI PTP edits (loaders/ncci/ptp_ranges.py). Each
# type has range indexes on ``until`` and ``closed_by`` (ontology/model.py), which these statements seek.
RANGED_TYPES = (R.IN_RELEASE, *RANGED_CODE_EDGES, R.BUNDLES)
SCOPES = tuple(f"{chain.prefix}_scope" for chain in CHAINS)  # the Release properties listing a chain release's scope


def reopen(session: Session, run_id: str) -> None:
    """Ranges the run closed are current again (its releases' readers never saw the close, so the order against
    deleting the run's own relationships does not matter)."""
    for rel_type in RANGED_TYPES:
        session.run(f"MATCH ()-[e:{rel_type}]->() WHERE e.closed_by = $run "
                    "CALL (e) { REMOVE e.until, e.closed_by } IN TRANSACTIONS OF 20000 ROWS", run=run_id).consume()


def archive(session: Session, release_id: str, archived: str) -> None:
    """A retracted release renamed: the ranges it closed and the scopes naming it follow."""
    for rel_type in RANGED_TYPES:
        session.run(f"MATCH ()-[e:{rel_type}]->() WHERE e.until = $id "
                    "CALL (e) { SET e.until = $archived } IN TRANSACTIONS OF 20000 ROWS",
                    id=release_id, archived=archived).consume()
    for scope in SCOPES:
        session.run(f"MATCH (rel:{L.Release}) WHERE $id IN rel.{scope} "
                    f"SET rel.{scope} = [x IN rel.{scope} | CASE WHEN x = $id THEN $archived ELSE x END]",
                    id=release_id, archived=archived).consume()
