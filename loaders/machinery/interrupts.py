"""Ctrl-C during a load, remembered until the load can act on it.

Python turns SIGINT into ``KeyboardInterrupt`` wherever the main thread is, and drops it when that is inside a
finaliser (``__del__``: a driver session the cyclic collector frees while a loader builds its rows) with only
"Exception ignored in …" and a traceback on stderr; the load would then run to its end. While a load runs, the
signal is recorded here, and raised at once unless a finaliser is running; the writer checks before each batch
(``check``)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_seen = threading.Event()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _seen.set()
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return  # raised in a finaliser it would be printed and dropped: the next batch raises it
        frame = frame.f_back
    raise KeyboardInterrupt


@contextmanager
def remembered() -> Iterator[None]:
    """Record Ctrl-C for the block's duration; as is where SIGINT is ignored (a background job) or handled by
    someone else, or off the main thread (where no handler can be set)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    _seen.clear()
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _seen.clear()


def check() -> None:
    """Raise the Ctrl-C a finaliser swallowed."""
    if _seen.is_set():
        raise KeyboardInterrupt
