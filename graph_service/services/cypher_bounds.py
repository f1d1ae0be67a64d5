"""How an auditor's query is executed: bounded in time, memory, rows and concurrency.

- time: the transaction carries a server-side timeout, and the caller waits at most ``timeout_s`` plus a
  small grace. Neo4j checks the timeout only between operator steps, so a single expression that runs long
  (``reduce`` building a string) can outlive it; the driver-side deadline answers the client anyway and asks
  the server to terminate the transaction (found by the request tag in its metadata).
- memory: the server caps each transaction (``db.memory.transaction.max``, written into the local server's
  config) and all of them together (``dbms.memory.transaction.total.max``); either error is a 4xx saying so.
- rows: at most ``row_cap + 1`` records are pulled from the server, in the driver's fetch batches; the rest
  of the result is never sent.
- concurrency: a query the server cannot interrupt keeps its worker until it ends, so each process runs at
  most ``slots`` auditor queries at once; a query waits for a free slot within its own deadline and is
  answered 503 with Retry-After when none frees, instead of letting stuck queries take every request thread.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from neo4j import READ_ACCESS, Driver
from neo4j.exceptions import ClientError, DriverError, Neo4jError, ServiceUnavailable, SessionExpired, TransientError

from graph_service.errors import BadRequest, ServiceError, Unavailable

log = logging.getLogger(__name__)

# Seconds the caller waits beyond the transaction timeout: the plan check, the round trips, the server's
# own reaction to its timeout. Past it the answer is 408 whatever the server is doing.
DEADLINE_GRACE_S = 2.0
# Longest a query waits for a free slot (within its deadline) before the 503.
SLOT_WAIT_S = 10.0
_MEMORY_CODES = ("MemoryPoolOutOfMemoryError", "TransactionOutOfMemoryError", "MemoryLimitExceeded")
_TERMINATE = """
SHOW TRANSACTIONS YIELD transactionId, metaData WHERE metaData.request = $tag
TERMINATE TRANSACTIONS transactionId YIELD transactionId AS terminated RETURN terminated
"""


class CypherTimeout(ServiceError):
    status, title, type = 408, "Query timed out", "/problems/cypher-timeout"


class CypherMemoryLimit(ServiceError):
    status, title, type = 400, "Query needs too much memory", "/problems/cypher-memory-limit"


class CypherBusy(Unavailable):
    title, type = "Auditor query slots busy", "/problems/cypher-busy"


Rows = tuple[list[str], list[Any], bool]


class QuerySlots:
    """At most ``size`` queries in flight in this process, each on its own worker thread."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._free = threading.BoundedSemaphore(size)
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="auditor-query")

    def submit(self, fn: Callable[[], Rows], wait_s: float) -> Any:
        if not self._free.acquire(timeout=wait_s):
            raise CypherBusy(f"all {self.size} auditor query slots stayed busy for {wait_s:g}s; retry shortly")

        def run() -> Rows:
            try:
                return fn()
            finally:
                self._free.release()

        return self._pool.submit(run)


_slots: dict[int, QuerySlots] = {}
_slots_lock = threading.Lock()


def query_slots(size: int) -> QuerySlots:
    with _slots_lock:
        if size not in _slots:
            _slots[size] = QuerySlots(size)
        return _slots[size]


def execute_bounded(
    driver: Driver, database: str, cypher: str, params: dict[str, Any], *, timeout_s: float, row_cap: int,
    slots: int, before: Callable[[], None] = lambda: None,
) -> Rows:
    """Columns, at most ``row_cap + 1`` raw records and whether more were left on the server.

    ``before`` runs on the worker first (the plan check), inside the same deadline."""
    tag = uuid.uuid4().hex

    def work() -> Rows:
        before()
        with driver.session(database=database, default_access_mode=READ_ACCESS) as session:
            tx = session.begin_transaction(timeout=timeout_s, metadata={"app": "codegraph-auditor", "request": tag})
            try:
                result = tx.run(cypher, params)  # type: ignore[arg-type]  # checked by the guard
                columns = list(result.keys())
                records = result.fetch(row_cap + 1)
            finally:
                tx.close()  # rolls back: nothing an auditor runs is ever committed
        return columns, records, len(records) > row_cap

    deadline = time.monotonic() + timeout_s + DEADLINE_GRACE_S
    future = query_slots(slots).submit(lambda: _mapped(work, timeout_s), wait_s=min(SLOT_WAIT_S, timeout_s))
    try:
        return future.result(timeout=max(deadline - time.monotonic(), 0.0))
    except FutureTimeout:
        threading.Thread(target=terminate_tagged, args=(driver, database, tag), daemon=True,
                         name="auditor-query-terminate").start()
        raise CypherTimeout(
            f"stopped after the {timeout_s:g}s limit (the server does not interrupt this query by itself; it was "
            "asked to terminate it); narrow the query (LIMIT, bounded patterns, smaller lists)"
        ) from None


def _mapped(work: Callable[[], Rows], timeout_s: float) -> Rows:
    """Neo4j's errors for a query → the problem the auditor sees (never a 500)."""
    try:
        return work()
    except ServiceError:
        raise
    except (ServiceUnavailable, SessionExpired):
        raise  # the app's handler answers 503 with Retry-After
    except Neo4jError as exc:
        code, message = exc.code or "", exc.message or str(exc)
        if "TransactionTimedOut" in code or "Transaction.Terminated" in code:
            raise CypherTimeout(f"stopped after the {timeout_s:g}s limit") from exc
        if any(c in code for c in _MEMORY_CODES):
            raise CypherMemoryLimit(
                f"the query needs more memory than a transaction may use ({message}); aggregate less "
                "(count instead of collect, LIMIT before collect, fewer cartesian products)"
            ) from exc
        if isinstance(exc, ClientError):
            raise BadRequest(f"the query failed: {message}") from exc
        if isinstance(exc, TransientError):
            raise Unavailable(f"the graph database could not run the query now: {message}") from exc
        raise Unavailable(f"the graph database failed the query: {message}") from exc
    except DriverError as exc:
        raise Unavailable(f"the graph database connection failed: {exc}") from exc
    except (ValueError, TypeError, OverflowError) as exc:  # the driver cannot encode a parameter (int64, UTF-8)
        raise BadRequest(f"the parameters cannot be sent to Neo4j: {exc}") from exc


def terminate_tagged(driver: Driver, database: str, tag: str) -> None:
    """Ask the server to terminate the auditor query whose transaction carries ``tag`` (best effort)."""
    try:
        driver.execute_query(_TERMINATE, {"tag": tag}, database_=database)
    except (Neo4jError, DriverError) as exc:  # best effort: the server's own timeout may already have ended it
        log.warning("could not terminate auditor query %s: %s", tag, exc)
