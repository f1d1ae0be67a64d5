"""The parse-time pause of the cyclic collector: overlapping holders, and the state it found restored."""

from __future__ import annotations

import gc
import threading

from loaders.machinery.gc_pause import gc_paused


def test_the_collector_resumes_only_when_the_last_of_two_overlapping_parses_ends() -> None:
    # The demo parses the tabular XML ahead in one thread while another thread loads an NCCI quarter.
    assert gc.isenabled()
    first_in, second_done = threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with gc_paused():
            first_in.set()
            second_done.wait(5)
            seen.append(gc.isenabled())  # the second parse left; this one still holds the pause

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(5)
    with gc_paused():
        assert not gc.isenabled()
    second_done.set()
    thread.join(5)
    assert seen == [False]
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
