"""What every engine-speed row shares: the run context, one result row, percentiles and timing.

Each benchmark module that contributes to ``python -m bench.engine_speed`` exposes
``engine_speed_rows(ctx: BenchContext) -> list[Row]``; a row carries its own baseline measured in the
same run, so the ratio (not the absolute figure) is what compares across noisy machines.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from neo4j import Driver

from bench.proc_cpu import machine_cpu_ticks
from codegraph.settings import Settings


@dataclass
class BenchContext:
    driver: Driver
    settings: Settings
    work_dir: Path  # scratch space for generated files (not in the repository)
    quick: bool = False  # smaller sizes, for a smoke run
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def database(self) -> str:
        return self.settings.neo4j_database


@dataclass
class Row:
    path: str  # what was measured, as in issue 9's table
    measured: str  # the figure, human-readable ("412 req/s, p99 14 ms")
    goal: str  # the goal as stated ("≥ 0.5× bare", "p99 ≤ 30 ms")
    met: bool | None  # None when the goal needs a quiet machine or a size not run
    ratio: float | None = None  # against the baseline of the same run, where the goal is a ratio
    baseline: str = ""  # the baseline's figure in this run
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def wait_for_quiet(max_wait_s: float, *, busy_below: float = 0.25, window_s: float = 2.0) -> tuple[float, float]:
    """Wait until the machine's cores were less than ``busy_below`` busy over one ``window_s`` (at most
    ``max_wait_s``); returns (seconds waited, busy fraction of the last window).

    A row started right after another pays for the other's tail (a checkpoint, a server shutting down, the GC
    of a finished load). The load average cannot tell: it lags by a minute, so it reads 2 on an idle machine
    just after a busy row. /proc/stat's counters say what the cores do now."""
    if max_wait_s <= 0 or not os.path.exists("/proc/stat"):
        return 0.0, float("nan")
    started = time.perf_counter()
    while True:
        busy0, total0 = machine_cpu_ticks()
        time.sleep(window_s)
        busy1, total1 = machine_cpu_ticks()
        busy = (busy1 - busy0) / max(1, total1 - total0)
        waited = time.perf_counter() - started
        if busy < busy_below or waited >= max_wait_s:
            return round(waited, 1), round(busy, 3)


