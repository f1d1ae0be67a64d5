"""Several write sessions draining one row stream: for statements whose batches touch disjoint nodes.

Concept batches create disjoint nodes (their only shared node, the Release, takes relationship inserts
concurrently), so two sessions keep the server busy while a batch is packed and sent. Each session has its own
``GraphWriter`` (same run and release stamps, so provenance and clean-up are unchanged); their counters are
summed into the load's writer. A failure in one session stops the others and is raised as is (with the bad row
located by that writer). Statements that link shared nodes (IS-A, map targets) stay on one session: concurrent
batches would deadlock on the shared ends. (Generic; kept here while loaders/machinery is being reworked.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from loaders.machinery.pipeline import LoadContext
from loaders.machinery.writer import GraphWriter, Row


class _SharedRows:
    """One iterator handed out row by row to several consumers; stops them all once one has failed."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self._rows = iter(rows)
        self._lock = threading.Lock()
        self.failed = threading.Event()

    def __iter__(self) -> Iterator[Row]:
        while not self.failed.is_set():
            with self._lock:
                try:
                    row = next(self._rows)
                except StopIteration:
                    return
            yield row


def write_concurrently(
    ctx: LoadContext,
    name: str,
    cypher: str,
    rows: Iterable[Row],
    *,
    sessions: int = 2,
    batch_size: int | None = None,
    params: Mapping[str, Any] | None = None,
    describe_row: Callable[[Row], str] | None = None,
) -> int:
    """Like ``ctx.writer.write`` with ``sessions`` transactions in flight; returns rows written."""
    main = ctx.writer
    if sessions <= 1 and batch_size in (None, main.batch_size):
        return main.write(name, cypher, rows, params=params, describe_row=describe_row)
    shared = _SharedRows(rows)
    writers = [GraphWriter(main.driver, main.database, run_id=main.run_id, release_id=main.release_id,
                           batch_size=batch_size or main.batch_size) for _ in range(sessions)]
    written = [0] * sessions
    errors: list[BaseException] = []

    def drain(i: int) -> None:
        try:
            written[i] = writers[i].write(name, cypher, shared, params=params, describe_row=describe_row)
        except BaseException as exc:
            errors.append(exc)
            shared.failed.set()

    threads = [threading.Thread(target=drain, args=(i,), name=f"{name} writer {i}") for i in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for writer in writers:
        _add_stats(main, writer)
    # The sessions overlap: the statement took as long as the slowest of them, not their sum.
    main.stats.seconds += max(w.stats.seconds for w in writers)
    if errors:
        raise errors[0]
    return sum(written)


def _add_stats(main: GraphWriter, part: GraphWriter) -> None:
    total, add = main.stats, part.stats
    total.rows += add.rows
    total.nodes_created += add.nodes_created
    total.relationships_created += add.relationships_created
    total.properties_set += add.properties_set
    total.nodes_deleted += add.nodes_deleted
    total.relationships_deleted += add.relationships_deleted
    for statement, n in add.per_statement.items():
        total.per_statement[statement] = total.per_statement.get(statement, 0) + n
