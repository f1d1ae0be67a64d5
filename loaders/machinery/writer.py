"""The one writer every loader uses: rows → batched ``UNWIND $rows`` → managed transactions.

Each batch runs in its own managed write transaction (the driver retries transient errors, deadlocks
included). Every statement receives ``$run`` and ``$release`` so the Cypher stamps provenance on what it
writes. When a batch fails on bad data, the writer retries its rows one by one to name the failing record,
then raises ``RowWriteError``.

Two things keep a load near the server's write ceiling:
- ``layout=``: rows travel as lists (``row_layout.RowLayout``), not maps, so the client packs no key strings;
- ``sessions=N``: N transactions in flight, each on its own session, while the calling thread builds the next
  batches. Use it for statements whose batches touch disjoint nodes (code nodes, release memberships, edges
  out of distinct sources); a batch that deadlocks on a shared node is retried by the driver, so it stays
  correct, only slower. A failed batch stops the others; everything written so far carries the run's
  ``load_run`` and is removed by the pipeline with the rest of the run.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from neo4j import Driver, ManagedTransaction, Session
from neo4j.exceptions import ClientError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from loaders.errors import LoadError
from loaders.machinery import interrupts
from loaders.machinery.row_layout import RowLayout

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
    seconds: float = 0.0  # wall time spent in write() and run() calls
    per_statement: dict[str, int] = field(default_factory=dict)
    seconds_per_statement: dict[str, float] = field(default_factory=dict)
    # Batches the server refused with a transient error (a deadlock between two writer sessions, a lock wait
    # that timed out) and the driver ran again after a back-off: seconds a load spends waiting, not writing.
    retries_per_statement: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()  # writer threads add their batches' counters; not a field (asdict-safe)

    def add(self, name: str, rows: int, counters: Any, seconds: float | None = None) -> None:
        """Counters of one batch; ``seconds`` only when the batch's time is the statement's (no overlap)."""
        with self._lock:
            self.rows += rows
            self.nodes_created += counters.nodes_created
            self.relationships_created += counters.relationships_created
            self.properties_set += counters.properties_set
            self.nodes_deleted += counters.nodes_deleted
            self.relationships_deleted += counters.relationships_deleted
            self.per_statement[name] = self.per_statement.get(name, 0) + rows
        if seconds is not None:
            self.add_time(name, seconds)

    def add_retry(self, name: str, times: int = 1) -> None:
        with self._lock:
            self.retries_per_statement[name] = self.retries_per_statement.get(name, 0) + times

    def add_time(self, name: str, seconds: float) -> None:
        with self._lock:
            self.seconds += seconds
            self.seconds_per_statement[name] = self.seconds_per_statement.get(name, 0.0) + seconds

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def records_created(self) -> int:
        """Nodes and relationships created: what a load adds to the graph, however many rows carried it (one code
        row creates a membership and an IS_A edge)."""
        return self.nodes_created + self.relationships_created

    def as_properties(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "nodes_created": self.nodes_created,
            "relationships_created": self.relationships_created, "properties_set": self.properties_set,
            "write_seconds": round(self.seconds, 3),
            **({"transaction_retries": sum(self.retries_per_statement.values())} if self.retries_per_statement
               else {}),
        }


def batched(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        interrupts.check()  # a Ctrl-C a finaliser swallowed stops the load here
        yield batch


@dataclass
class _Statement:
    """One write() call: what every batch of it needs."""

    name: str
    cypher: str
    params: dict[str, Any]
    layout: RowLayout | None
    describe_row: Callable[[Row], str] | None

    def wire(self, batch: list[Row]) -> list[Any]:
        return [self.layout.encode(r) for r in batch] if self.layout else batch


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
        self._progress_lock = threading.Lock()
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
        layout: RowLayout | None = None,
        sessions: int = 1,
    ) -> int:
        """Run ``cypher`` (which must unwind ``$rows``: ``UNWIND $rows AS row``, or ``layout.unwind()`` when a
        layout is given) over ``rows``; returns rows written. ``describe_row`` gets the row as the loader made it."""
        statement = _Statement(name, cypher, dict(params or {}), layout, describe_row)
        task = self._progress.add_task(name, total=total, rate="-") if self._progress else None
        started = time.perf_counter()
        progress = _Progress(self, task, started)
        try:
            if sessions <= 1:
                with self.driver.session(database=self.database) as session:
                    for batch in batched(rows, self.batch_size):
                        self._write_batch(session, statement, batch)
                        progress.advance(len(batch))
            else:
                self._write_concurrently(statement, batched(rows, self.batch_size), sessions, progress)
        finally:
            self.stats.add_time(name, time.perf_counter() - started)
        return progress.written

    def run(self, name: str, cypher: str, params: Mapping[str, Any] | None = None) -> Any:
        """One non-batched statement (set-up, promotion) in a managed write transaction."""
        t0 = time.perf_counter()
        with self.driver.session(database=self.database) as session:
            counters = self._execute(session, name, cypher, None, dict(params or {}))
        self.stats.add(name, 0, counters, time.perf_counter() - t0)
        return counters

    # -- batches --------------------------------------------------------------------------------------------
    def _write_batch(self, session: Session, statement: _Statement, batch: list[Row]) -> None:
        try:
            counters = self._execute(session, statement.name, statement.cypher, statement.wire(batch),
                                     statement.params)
        except ClientError as exc:
            self._locate_bad_row(session, statement, batch, exc)
            raise  # _locate_bad_row raises; this keeps type checkers honest
        self.stats.add(statement.name, len(batch), counters)

    def _execute(self, session: Session, name: str, cypher: str, batch: list[Any] | None,
                 extra: dict[str, Any]) -> Any:
        """One managed write transaction; the driver's runs of it after the first are counted as retries. Counted
        per attempt, not per error seen inside the statement: a deadlock over relationship chains is found at
        commit, after the statement has returned."""
        attempts = 0

        def attempt(tx: ManagedTransaction) -> Any:
            nonlocal attempts
            attempts += 1
            return self._run_batch(tx, cypher, batch, extra)

        try:
            return session.execute_write(attempt)
        finally:
            if attempts > 1:
                self.stats.add_retry(name, attempts - 1)

    def _write_concurrently(self, statement: _Statement, batches: Iterator[list[Row]], sessions: int,
                            progress: _Progress) -> None:
        """``sessions`` threads write batches while this thread builds the next ones (bounded: memory stays flat)."""
        pending: queue.Queue[list[Row] | None] = queue.Queue(maxsize=sessions * 2)
        failed = threading.Event()
        errors: list[BaseException] = []

        def drain() -> None:
            with self.driver.session(database=self.database) as session:
                while (batch := pending.get()) is not None:
                    if failed.is_set():
                        continue  # keep taking batches so the producer never blocks on a full queue
                    try:
                        self._write_batch(session, statement, batch)
                        progress.advance(len(batch))
                    except BaseException as exc:  # raised in the caller's thread below
                        errors.append(exc)
                        failed.set()

        threads = [threading.Thread(target=drain, name=f"{statement.name} writer {i}", daemon=True)
                   for i in range(sessions)]
        for thread in threads:
            thread.start()
        try:
            for batch in batches:
                if failed.is_set():
                    break
                pending.put(batch)
        finally:
            for _ in threads:
                pending.put(None)
            for thread in threads:
                thread.join()
        if errors:
            raise errors[0]

    def _run_batch(self, tx: ManagedTransaction, cypher: str, batch: list[Any] | None, extra: dict[str, Any]) -> Any:
        params = {"run": self.run_id, "release": self.release_id, **extra}
        if batch is not None:
            params["rows"] = batch
        return tx.run(cypher, params).consume().counters

    def _locate_bad_row(self, session: Session, statement: _Statement, batch: list[Row], exc: ClientError) -> None:
        # Row by row, each in its own transaction that is rolled back, to name the bad record.
        for row in batch:
            tx = session.begin_transaction()
            try:
                tx.run(statement.cypher, {"run": self.run_id, "release": self.release_id, **statement.params,
                                          "rows": statement.wire([row])}).consume()
            except ClientError as row_exc:
                describe = statement.describe_row
                where = describe(row) if describe else repr(dict(row))[:300]
                raise RowWriteError(f"{statement.name}: the graph refused {where}: {row_exc.message}") from row_exc
            finally:
                tx.rollback()
        raise RowWriteError(f"{statement.name}: a batch of {len(batch)} rows failed: {exc.message}") from exc


class _Progress:
    """Rows written by one write() call, and its progress bar; safe to advance from writer threads."""

    def __init__(self, writer: GraphWriter, task: Any, started: float) -> None:
        self.writer = writer
        self.task = task
        self.started = started
        self.written = 0

    def advance(self, rows: int) -> None:
        with self.writer._progress_lock:
            self.written += rows
            if self.writer._progress is not None and self.task is not None:
                rate = self.written / max(time.perf_counter() - self.started, 1e-9)
                self.writer._progress.update(self.task, advance=rows, rate=f"{rate:,.0f}")
