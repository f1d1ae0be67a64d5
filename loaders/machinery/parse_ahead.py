"""Parsing a release's files before its load starts, while the process would otherwise wait.

A load parses, then writes: its parse is on the critical path of whatever waits for it. The demo knows its
files minutes before it loads the big ones (the ICD-10-CM tabular XML waits behind two older releases; MS-DRG
behind ICD-10-CM), and spends its first ten seconds waiting for Neo4j to start with a core idle. Loaders that
parse for seconds expose ``prepare(paths)``, which hands the parse to one background thread here; the load
then ``take``s the result (waiting for it if it is still running) or, when nothing was prepared, parses as
always. A result is keyed by the files' identity (path, size, modification time): a file changed after it was
parsed ahead is parsed again, never loaded stale. A result is handed out once and then dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
FileIdentity = tuple[str, int, int]


def identity(paths: Sequence[Path]) -> tuple[FileIdentity, ...]:
    out = []
    for p in paths:
        st = p.stat()
        out.append((str(p.resolve()), st.st_size, st.st_mtime_ns))
    return tuple(out)


class ParseAhead:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, tuple[FileIdentity, ...]], Future[Any]] = {}
        self._pool: ThreadPoolExecutor | None = None

    def submit(self, name: str, parse: Callable[[list[Path]], T], paths: Sequence[Path]) -> None:
        """Start ``parse(paths)`` in the background (one at a time, in the order submitted)."""
        key = (name, identity(paths))
        with self._lock:
            if key in self._pending:
                return
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="parse-ahead")
            self._pending[key] = self._pool.submit(parse, list(paths))

    def take(self, name: str, parse: Callable[[list[Path]], T], paths: Sequence[Path]) -> T:
        """The result prepared for these very files (waiting for it), else ``parse(paths)`` now. A parse that
        failed ahead raises here, where the load reports it as any parse error."""
        with self._lock:
            future = self._pending.pop((name, identity(paths)), None)
        if future is None or future.cancel():
            return parse(list(paths))
        return future.result()  # type: ignore[no-any-return]

    def clear(self) -> None:
        """Drop what nobody took (a release already loaded): its memory is not held for the process's life."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.cancel()

    def held(self) -> list[str]:
        with self._lock:
            return sorted(name for name, _ in self._pending)


PARSED_AHEAD = ParseAhead()
