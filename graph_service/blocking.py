"""Where the request path may wait on the network.

``memory_only()`` marks a stretch of code that must not wait on Neo4j: a graph read attempted inside it
raises ``NeedsGraph`` before any I/O. Async routes use it (``answer``) to answer from the release data
held in memory on the event loop, and move the same call to a worker thread only when the graph must be
asked (a table still being built, a query that needs traversal). Services stay plain synchronous code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

P = ParamSpec("P")
T = TypeVar("T")
_memory_only: ContextVar[bool] = ContextVar("memory_only", default=False)


class NeedsGraph(Exception):
    """Raised by a graph read attempted under ``memory_only()``."""


@contextmanager
def memory_only() -> Iterator[None]:
    token = _memory_only.set(True)
    try:
        yield
    finally:
        _memory_only.reset(token)


def check_may_block() -> None:
    if _memory_only.get():
        raise NeedsGraph


async def answer(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` on the event loop if it needs only memory, else in the thread pool.

    Only for reads: a call that raised ``NeedsGraph`` is run again from the start in a thread."""
    try:
        with memory_only():
            return fn(*args, **kwargs)
    except NeedsGraph:
        return await run_in_threadpool(fn, *args, **kwargs)
