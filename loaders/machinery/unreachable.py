"""A load that loses Neo4j ends with one line saying what happened and what to do, not a driver traceback.

Nothing can be cleaned up while the server is gone, and nothing needs to be: the release is still ``staging``
(never served), and the next load finds the run still marked running with its process gone and removes what
it wrote (``RunLedger.stale_runs``).
"""

from __future__ import annotations

import math

from neo4j.exceptions import DatabaseUnavailable, IncompleteCommit, ServiceUnavailable, SessionExpired

from loaders.errors import LoadError
from loaders.machinery.runs import ReleaseSpec
from loaders.machinery.writer import GraphWriter

UNREACHABLE = (ServiceUnavailable, SessionExpired, DatabaseUnavailable, IncompleteCommit)


class GraphUnreachableError(LoadError):
    """Neo4j went away during a load; the graph shows nothing of the release."""


def unreachable_error(exc: BaseException, writer: GraphWriter, release: ReleaseSpec) -> GraphUnreachableError | None:
    """The error to end the load with when ``exc`` (or what caused it) says Neo4j cannot be reached, else None."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, UNREACHABLE):
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return None
    stats = writer.stats
    batch = 1 + sum(math.ceil(rows / writer.batch_size) for rows in stats.per_statement.values())
    return GraphUnreachableError(
        f"Neo4j became unreachable during batch {batch} of {release.id} ({stats.rows:,} rows written before); "
        f"nothing of this release is visible; run the same command again"
    )
