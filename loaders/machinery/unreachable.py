"""A load that loses Neo4j, or whose Neo4j can no longer write (disk full, read-only store), ends with one line
saying what happened and what to do, not a driver traceback.

Nothing can be cleaned up while the server is gone, and nothing needs to be: the release is still ``staging``
(never served), and the next load finds the run still marked running with its process gone and removes what
it wrote (``RunLedger.stale_runs``).
"""

from __future__ import annotations

import math

from neo4j.exceptions import (
    DatabaseError,
    DatabaseUnavailable,
    IncompleteCommit,
    ServiceUnavailable,
    SessionExpired,
)

from loaders.errors import LoadError
from loaders.machinery.runs import ReleaseSpec
from loaders.machinery.writer import GraphWriter

UNREACHABLE = (ServiceUnavailable, SessionExpired, DatabaseUnavailable, IncompleteCommit)
# Server-side storage failures: the server is up but cannot commit (no space, read-only files, a panic after one).
STORAGE = (DatabaseError,)


class GraphUnreachableError(LoadError):
    """Neo4j went away during a load; the graph shows nothing of the release."""


def unreachable_error(exc: BaseException, writer: GraphWriter, release: ReleaseSpec) -> GraphUnreachableError | None:
    """The error to end the load with when ``exc`` (or what caused it) says Neo4j cannot be reached, else None."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, UNREACHABLE + STORAGE):
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return None
    stats = writer.stats
    batch = 1 + sum(math.ceil(rows / writer.batch_size) for rows in stats.per_statement.values())
    where = f"during batch {batch} of {release.id} ({stats.rows:,} rows written before)"
    if isinstance(cause, STORAGE):
        reason = " ".join(str(getattr(cause, "message", None) or cause).split())[:300]
        return GraphUnreachableError(
            f"Neo4j could not write {where}: {reason}; nothing of this release is visible; free disk space or make "
            "the store writable, restart Neo4j (`codegraph neo4j start`), then run the same command again"
        )
    return GraphUnreachableError(
        f"Neo4j became unreachable {where}; nothing of this release is visible; run the same command again"
    )
