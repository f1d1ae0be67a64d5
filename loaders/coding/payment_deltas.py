"""Backfill of stored payment shifts for coding revisions recorded before they were stored on the revision.

Assignments written by ``WRITE_ASSIGNMENTS`` carry ``payment_delta`` (and the previous DRG, weight and payment)
from the moment they are recorded; a graph loaded before that lacks them on its revisions, and the DRG-shift
audit, an index seek on ``payment_delta_abs``, would not see those revisions. This step computes them with the
very statement the writers use. It is idempotent and each revision's values depend only on its own revision
chain, so it commits in slices: an interrupted run leaves correct values behind and a re-run finishes the rest.

``codegraph schema apply`` runs it after the indexes are in place; ``python -m loaders.coding.payment_deltas``
runs it alone.
"""

from __future__ import annotations

from neo4j import Driver

from codegraph.db import open_driver
from codegraph.settings import get_settings
from graph_service.services.coding import RECORD_PAYMENT_SHIFT
from ontology.vocabulary import L, R

# Grouped revisions without a stored shift; those whose chain holds no earlier grouped version stay without one
# (as recorded), so a re-run finds them again and leaves them as they are.
PENDING = f"""
MATCH (a:{L.CodingAssignment})
WHERE a.expected_payment IS NOT NULL AND a.payment_delta IS NULL AND EXISTS {{ (a)-[:{R.SUPERSEDES}]->() }}
"""
BACKFILL_PAYMENT_SHIFTS = PENDING + f"CALL (a) {{{RECORD_PAYMENT_SHIFT}}} IN TRANSACTIONS OF $slice ROWS"


def backfill_payment_shifts(driver: Driver, database: str, *, slice_rows: int = 5000) -> int:
    """Store the payment shift on every grouped revision recorded without one; returns how many were stored."""
    with driver.session(database=database) as session:  # IN TRANSACTIONS needs an auto-commit transaction
        pending = session.run(PENDING + "RETURN count(a) AS n").single(strict=True)["n"]
        if pending:
            session.run(BACKFILL_PAYMENT_SHIFTS, slice=slice_rows).consume()
        left = session.run(PENDING + "RETURN count(a) AS n").single(strict=True)["n"]
    return pending - left


def main() -> None:
    settings = get_settings()
    with open_driver(settings) as driver:
        stored = backfill_payment_shifts(driver, settings.neo4j_database)
    print(f"payment shifts stored on {stored:,} revisions recorded before")


if __name__ == "__main__":
    main()
