"""The one writer every loader uses: rows → batched ``UNWIND $rows`` → managed transactions.

Each batch runs in its own managed write transaction (the driver retries transient
errors). Every statement receives ``$run`` and ``$release`` so the Cypher stamps
provenance on what it writes. When a batch fails on bad data, the writer retries its
rows one by one to name the failing record, then raises ``RowWriteError``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from neo4j import Driver, ManagedTransaction
from neo4j.exceptions import ClientError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from loaders.errors import LoadError

Row = Mapping[str, Any]


class RowWriteError(LoadError):
    """A row the graph refused (constraint, type); names the statement and the row's source."""


@dataclass
class WriteStats:
    """Counters of one load, summed over statements (what the summary and LoadRun record)."""

    rows: int = 0
    nodes_created: int = 0
    relationships_created: int = 0
    properties_set: int = 0
    nodes_deleted: int = 0
    relationships_deleted: int = 0
    seconds: float = 0.0
    per_statement: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, rows: int, counters: Any, seconds: float) -> None:
        self.rows += rows
        self.nodes_created += counters.nodes_created
        self.relationships_created += counters.relationships_created
        self.properties_set += counters.properties_set
        self.nodes_deleted += counters.nodes_deleted
        self.relationships_deleted += counters.relationships_deleted
        self.seconds += seconds
        self.per_statement[name] = self.per_statement.get(name, 0) + rows

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def as_properties(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "nodes_created": self.nodes_created,
            "relationships_created": self.relationships_created, "properties_set": self.properties_set,
            "write_seconds": round(self.seconds, 3),
        }


def batched(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


class GraphWriter:
    """Writes rows with parameterised Cypher in batches, stamping run and release."""

    def __init__(
        self,
        driver: Driver,
        database: str,
        *,
        run_id: str,
        release_id: str | None,
        batch_size: int = 5000,
        show_progress: bool = False,
    ) -> None:
        self.driver = driver
        self.database = database
        self.run_id = run_id
        self.release_id = release_id
        self.batch_size = batch_size
        self.stats = WriteStats()
        self._progress: Progress | None = None
        if show_progress:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:>9} rows/s"), TimeElapsedColumn(),
            )

    def __enter__(self) -> GraphWriter:
        if self._progress:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress:
            self._progress.stop()

    def write(
        self,
        name: str,
        cypher: str,
        rows: Iterable[Row],
        *,
        total: int | None = None,
        describe_row: Callable[[Row], str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> int:
        """Run ``cypher`` (which must ``UNWIND $rows AS row``) over ``rows``; returns rows written."""
        task = self._progress.add_task(name, total=total, rate="-") if self._progress else None
        written = 0
        started = time.perf_counter()
        extra = dict(params or {})
        with self.driver.session(database=self.database) as session:
            for batch in batched(rows, self.batch_size):
                t0 = time.perf_counter()
                try:
                    counters = session.execute_write(self._run_batch, cypher, batch, extra)
                except ClientError as exc:
                    self._locate_bad_row(session, name, cypher, batch, extra, exc, describe_row)
                    raise  # _locate_bad_row raises; this keeps type checkers honest
                self.stats.add(name, len(batch), counters, time.perf_counter() - t0)
                written += len(batch)
                if self._progress is not None and task is not None:
                    rate = written / max(time.perf_counter() - started, 1e-9)
                    self._progress.update(task, advance=len(batch), rate=f"{rate:,.0f}")
        return written

    def run(self, name: str, cypher: str, params: Mapping[str, Any] | None = None) -> Any:
        """One non-batched statement (set-up, promotion) in a managed write transaction."""
        t0 = time.perf_counter()
        with self.driver.session(database=self.database) as session:
            counters = session.execute_write(self._run_batch, cypher, None, dict(params or {}))
        self.stats.add(name, 0, counters, time.perf_counter() - t0)
        return counters

    def _run_batch(
        self, tx: ManagedTransaction, cypher: str, batch: list[Row] | None, extra: dict[str, Any]
    ) -> Any:
        params = {"run": self.run_id, "release": self.release_id, **extra}
        if batch is not None:
            params["rows"] = batch
        return tx.run(cypher, params).consume().counters

    def _locate_bad_row(
        self,
        session: Any,
        name: str,
        cypher: str,
        batch: list[Row],
        extra: dict[str, Any],
        exc: ClientError,
        describe_row: Callable[[Row], str] | None,
    ) -> None:
        # Row by row, each in its own transaction that is rolled back, to name the bad record.
        for row in batch:
            tx = session.begin_transaction()
            try:
                tx.run(cypher, {"run": self.run_id, "release": self.release_id, **extra, "rows": [row]}).consume()
            except ClientError as row_exc:
                where = describe_row(row) if describe_row else repr(dict(row))[:300]
                raise RowWriteError(f"{name}: the graph refused {where}: {row_exc.message}") from row_exc
            finally:
                tx.rollback()
        raise RowWriteError(f"{name}: a batch of {len(batch)} rows failed: {exc.message}") from exc
