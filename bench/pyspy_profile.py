"""py-spy over a running server during a load run: collapsed stacks, top frames by own and by total time.

``py-spy record --subprocesses --function --format raw`` writes one line per distinct stack,
``frame;frame;…;leaf COUNT``, frames as ``function (file:line)`` (``--function`` makes the line the
function's own, so samples aggregate per function). Own time counts the leaf; total time counts every
function on the stack once per sample (recursion is not double-counted).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

PY_SPY = Path(sys.executable).parent / "py-spy"
PLUMBING = ("(threading.py", "(asyncio/", "(concurrent/", "(selectors.py", "(runpy.py", "(typer/", "(click/",
            "(uvicorn/", "(anyio/", "(<frozen", "(<string>", "(codegraph/cli.py", "(multiprocessing/",
            "(starlette/applications.py", "(starlette/middleware/", "(starlette/_exception_handler.py",
            "(starlette/routing.py", "(fastapi/applications.py", "(fastapi/_body_limit.py",
            "(fastapi/telemetry/_asgi.py", "(fastapi/middleware/", "(fastapi/routing.py")
# The project's own code: its frames by total time say which service step (and which query) the time is under.
PROJECT = ("(graph_service/", "(codegraph/", "(loaders/", "(ontology/")
# Leaves of a thread that waits for work (the thread pool's idle workers, the event loop between events);
# a thread waiting on Neo4j's socket is *not* idle for a request, so ``_wait_for_io`` stays in.
IDLE_LEAVES = ("Condition.wait (threading.py", "EpollSelector.select (selectors.py", "Event.wait (threading.py")


@dataclass
class Profile:
    samples: int
    idle: int
    own: list[tuple[str, int]]
    total: list[tuple[str, int]]
    raw_file: Path

    @property
    def project(self) -> list[tuple[str, int]]:
        return [(frame, n) for frame, n in self.total if any(p in frame for p in PROJECT)]

    def render(self, top: int = 15) -> str:
        def table(title: str, rows: list[tuple[str, int]]) -> list[str]:
            out = [f"  top {top} by {title} ({self.samples:,} busy samples; {self.idle:,} idle left out)"]
            out += [f"    {100 * n / max(1, self.samples):5.1f}%  {frame}" for frame, n in rows[:top]]
            return out

        return "\n".join(table("own time", self.own) + table("total time", self.total)
                         + table("total time, the project's frames", self.project))

    def as_dict(self, top: int = 15) -> dict[str, object]:
        share = lambda rows: [{"frame": f, "pct": round(100 * n / max(1, self.samples), 2)} for f, n in rows[:top]]  # noqa: E731
        return {"samples": self.samples, "idle_samples": self.idle, "own": share(self.own), "total": share(self.total),
                "project": share(self.project),
                "raw_file": str(self.raw_file)}


def _short(frame: str) -> str:
    """``fn (/long/path/site-packages/pkg/mod.py:12)`` → ``fn (pkg/mod.py:12)``."""
    name, sep, where = frame.partition(" (")
    if not sep:
        return frame
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where}"


def parse_collapsed(text: str) -> tuple[int, int, Counter[str], Counter[str]]:
    """Busy samples, idle samples, own and total samples per frame."""
    samples, idle, own, total = 0, 0, Counter[str](), Counter[str]()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        while stack.startswith("process "):  # 'process PID:"command line";…' per parent; may hold ';'
            stack = stack.split('";', 1)[1] if '";' in stack else ""
        frames = [f for f in stack.split(";") if not f.startswith("thread ")]
        if not frames:
            continue
        n = int(count)
        frames = [_short(f) for f in frames]
        if frames[-1].startswith(IDLE_LEAVES):
            idle += n
            continue
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    return samples, idle, own, total


class PySpyRecorder:
    """Start py-spy on ``pid`` (and its worker processes) for ``duration_s``; ``finish`` parses its output."""

    def __init__(self, pid: int, duration_s: float, out: Path, rate: int = 200) -> None:
        self.out = out
        # --nonblocking: pausing the server for each sample halves its throughput; idle threads that py-spy
        # then still reports are dropped by their leaf frame (IDLE_LEAVES).
        cmd = [str(PY_SPY), "record", "--pid", str(pid), "--subprocesses", "--function", "--nonblocking",
               "--rate", str(rate), "--duration", str(max(1, round(duration_s))), "--format", "raw",
               "-o", str(out)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def finish(self, timeout_s: float = 120.0) -> Profile:
        output, _ = self.proc.communicate(timeout=timeout_s)
        if self.proc.returncode != 0 or not self.out.exists():
            raise RuntimeError(f"py-spy failed ({self.proc.returncode}): {output[-2000:]}")
        return profile_of(self.out)


def profile_of(raw_file: Path) -> Profile:
    samples, idle, own, total = parse_collapsed(raw_file.read_text())
    serving = [(frame, n) for frame, n in total.most_common() if not any(p in frame for p in PLUMBING)]
    return Profile(samples, idle, own.most_common(), serving, raw_file)


if __name__ == "__main__":  # python -m bench.pyspy_profile FILE [TOP]: the tables again from a kept raw file
    print(profile_of(Path(sys.argv[1])).render(int(sys.argv[2]) if len(sys.argv) > 2 else 15))
