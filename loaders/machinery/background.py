"""A read the server works on while the loader parses: started in a thread, waited for when needed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def in_background(read: Callable[[], T], name: str) -> Callable[[], T]:
    """``read()`` in a thread; call the result to wait for it (it re-raises what the read raised)."""
    out: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            out.append(read())
        except BaseException as exc:  # handed to the caller
            failed.append(exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()

    def result() -> T:
        thread.join()
        if failed:
            raise failed[0]
        return out[0]
    return result
