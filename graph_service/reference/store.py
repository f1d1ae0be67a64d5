"""Release data held in process, keyed by release and provably fresh.

The graph stays the source of truth. What the hot paths read of a visible release — the release
catalog itself, a classification's codes and hierarchy, the MS-DRG tables — is immutable until a release
is promoted, retracted or reloaded, so each process keeps it in memory and answers from there:

* the catalog is re-read by a poller thread every ``poll_s`` seconds (one small query), and at once when
  this process itself promoted or discarded a release (``codegraph.release_events``);
* each table is keyed by the catalog fingerprint of the systems it depends on, so a table built from a
  release that has since changed is never served; it is rebuilt in a background thread while callers
  fall back to the graph queries, which give the same answers (tests compare both paths).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from neo4j import Driver, Query

from codegraph.release_events import generation
from graph_service.blocking import check_may_block
from graph_service.models.releases import ReleaseInfo
from graph_service.reference.catalog import CATALOG_TOKEN, LIST_RELEASES, ReleaseCatalog

log = logging.getLogger(__name__)
T = TypeVar("T")


# A catalog read takes milliseconds. Bounded on the server so that one stuck behind a lock (seen: a poll queued
# behind a maintainer's DROP INDEX, which in turn waited for the poll) is terminated and retried at the next poll
# instead of holding its locks, and the schema change waiting on them, for ever.
CATALOG_READ_TIMEOUT_S = 10.0


def _bounded(cypher: str) -> Query:
    return Query(cypher, timeout=CATALOG_READ_TIMEOUT_S)


class ReferenceStore:
    def __init__(self, driver: Driver, database: str, *, poll_s: float = 0.25,
                 background_builds: bool = False, tables: bool = True) -> None:
        self.driver = driver
        self.database = database
        self.poll_s = poll_s
        self.background_builds = background_builds  # a service answers from the graph while a table builds
        self.tables_enabled = tables  # False: every read goes to the graph (tests compare the two paths)
        self._catalog: ReleaseCatalog | None = None
        self._catalog_generation = -1
        self._catalog_read_at = 0.0
        self._catalog_token: list[tuple[Any, ...]] = []
        self._catalog_lock = threading.Lock()
        self._tables: dict[Hashable, tuple[Hashable, Any]] = {}
        self._building: set[Hashable] = set()
        self._tables_lock = threading.Lock()
        self._inline_locks: dict[Hashable, threading.Lock] = {}  # one caller builds a table, the others wait
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    # ---- catalog ----------------------------------------------------------------------------------
    def catalog(self) -> ReleaseCatalog:
        """The visible releases: at most ``poll_s`` old, and current after a change made by this process."""
        catalog = self._catalog
        if (catalog is None or self._catalog_generation != generation()
                or (self._poller is None and time.monotonic() - self._catalog_read_at > self.poll_s)):
            check_may_block()
            catalog = self.refresh()
        return catalog

    def refresh(self) -> ReleaseCatalog:
        gen, read_at = generation(), time.monotonic()
        records, _, _ = self.driver.execute_query(_bounded(CATALOG_TOKEN), database_=self.database, routing_="r")
        token = sorted(map(tuple, records[0]["token"]))
        catalog = self._catalog
        if catalog is None or token != self._catalog_token:
            records, _, _ = self.driver.execute_query(_bounded(LIST_RELEASES), database_=self.database,
                                                      routing_="r")
            catalog = ReleaseCatalog(tuple(ReleaseInfo.from_row(r.data()) for r in records))
        with self._catalog_lock:
            self._catalog, self._catalog_token = catalog, token
            self._catalog_generation, self._catalog_read_at = gen, read_at
        return catalog

    def start(self) -> None:
        """Poll the catalog in the background (a service process); without it every read re-reads it."""
        if self._poller is None:
            self._poller = threading.Thread(target=self._poll, name="release-catalog-poll", daemon=True)
            self._poller.start()
            self.refresh()

    def close(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=2)
            self._poller = None

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.refresh()
            except Exception as exc:  # the database may restart; keep the last catalog and retry
                log.warning("release catalog poll failed: %s", exc)

    # ---- tables ---------------------------------------------------------------------------------------
    def table(self, key: Hashable, version: Hashable, build: Callable[[], T]) -> T | None:
        """The table ``key`` built for ``version`` (a catalog fingerprint); a table of an older version is
        never returned. With ``background_builds`` the first caller starts the build in a thread and gets
        None until it is ready (the caller then reads the graph); otherwise the caller builds it."""
        if not self.tables_enabled:
            return None
        held = self._tables.get(key)
        if held is not None and held[0] == version:
            return held[1]
        if not self.background_builds:
            return self._build_once(key, version, build)
        with self._tables_lock:
            if (key, version) in self._building:
                return None
            self._building.add((key, version))
        threading.Thread(target=self._build, args=(key, version, build), name=f"build-{key}", daemon=True).start()
        return None

    def _build_once(self, key: Hashable, version: Hashable, build: Callable[[], T]) -> T:
        """Build in the caller; callers asking for the same table meanwhile wait for that build instead of
        starting their own (a bulk load groups on several threads: each built the MS-DRG tables)."""
        with self._tables_lock:
            lock = self._inline_locks.setdefault((key, version), threading.Lock())
        try:
            with lock:
                held = self._tables.get(key)
                if held is not None and held[0] == version:
                    return held[1]
                return self._build(key, version, build)
        finally:
            with self._tables_lock:  # waiters hold the lock object; later callers find the table held
                if self._inline_locks.get((key, version)) is lock:
                    del self._inline_locks[(key, version)]

    def _build(self, key: Hashable, version: Hashable, build: Callable[[], T]) -> T:
        try:
            t0 = time.perf_counter()
            value = build()
            # Millions of long-lived objects: move them out of the collector's sight, or every full
            # collection walks them all and stalls the requests in flight for most of a second.
            gc.freeze()
            with self._tables_lock:
                self._tables[key] = (version, value)
            log.info("reference table %s built in %.1fs", key, time.perf_counter() - t0)
            return value
        finally:
            with self._tables_lock:
                self._building.discard((key, version))

    @contextmanager
    def building_inline(self) -> Iterator[None]:
        """Tables asked for inside this block are built by the caller (start-up warming)."""
        background, self.background_builds = self.background_builds, False
        try:
            yield
        finally:
            self.background_builds = background

    def status(self) -> dict[str, list[str]]:
        """What is held and what is being built (readiness and operators)."""
        with self._tables_lock:
            return {"held": sorted(str(k) for k in self._tables),
                    "building": sorted(str(k) for k, _ in self._building)}
