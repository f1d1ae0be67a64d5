"""Parsing overlapped with writing: an iterator drained by a background thread into a bounded queue.

The writer spends most of a load waiting on the server (the socket read releases the GIL), so a parser
thread fills the next batches meanwhile; the bound keeps memory flat, and an error in the parser is raised
in the consumer at the row where it happened. (A generic capability the shared writer may take over; it
lives here because loaders/machinery is being reworked at the same time.)
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(items: Iterable[T], *, chunk: int = 2000, depth: int = 8) -> Iterator[T]:
    """``items`` in order, produced by a daemon thread at most ``depth × chunk`` items ahead."""
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            part: list[T] = []
            for item in items:
                part.append(item)
                if len(part) >= chunk:
                    if not _put(buffer, part, stop):
                        return
                    part = []
            if part and not _put(buffer, part, stop):
                return
            _put(buffer, _DONE, stop)
        except BaseException as exc:  # handed to the consumer, which raises it
            _put(buffer, _Failed(exc), stop)

    # In a copy of this context: what the parser notes for the run's report (folded repeats) reaches the run.
    worker = threading.Thread(target=contextvars.copy_context().run, args=(produce,), name="snomed-parse",
                              daemon=True)
    worker.start()
    try:
        while True:
            part = buffer.get()
            if part is _DONE:
                return
            if isinstance(part, _Failed):
                raise part.error
            yield from part  # type: ignore[misc]
    finally:
        stop.set()  # a consumer that stops early (an error in the write) releases the producer
        worker.join(timeout=5)


def _put(buffer: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            buffer.put(item, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False
