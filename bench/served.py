"""HTTP servers started as subprocesses for a benchmark: the real ``codegraph serve`` and the bare baseline.

Both run the same way: uvicorn, the same host, the same worker count, no access log (``codegraph serve``
writes none: a log line per request would be the baseline's own cost, not the service's), output to a file in
the scratch dir. A server is ready when its readiness path answers 200; it is stopped with SIGTERM to its
process group (uvicorn's workers with it).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def serve_supports_workers() -> bool:
    """True when ``codegraph serve`` takes ``--workers`` (being added beside this harness)."""
    done = subprocess.run([str(VENV_BIN / "codegraph"), "serve", "--help"], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}, timeout=60)
    return "--workers" in done.stdout


@dataclass
class Server:
    name: str
    pid: int
    port: int
    workers: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


def real_command(port: int, workers: int | None) -> list[str]:
    cmd = [str(VENV_BIN / "codegraph"), "serve", "--host", HOST, "--port", str(port)]
    return cmd + (["--workers", str(workers)] if workers else [])


def bare_command(port: int, workers: int | None, *, access_log: bool = False) -> list[str]:
    """``access_log``: a line per request in the server's log (tests read it to see what wrk sent)."""
    return [str(VENV_BIN / "python"), "-m", "uvicorn", "bench.bare_app:app", "--host", HOST, "--port", str(port),
            "--log-level", "info", "--workers", str(workers or 1), *([] if access_log else ["--no-access-log"])]


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float, workers: int) -> None:
    """Until every worker has answered ready: a worker accepts connections only after its start-up (the
    real service builds its release tables then), and wrk's kept-alive connections stay on the workers that
    were accepting when it connected."""
    deadline = time.monotonic() + timeout_s
    ready: set[int] = set()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    pid = json.loads(r.read() or b"{}").get("worker_pid")
                    if pid is None:
                        return  # a server that does not say which worker answered
                    ready.add(pid)
                    if len(ready) >= workers:
                        return  # each poll is a new connection, which the kernel may hand to another worker
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server not ready at {url} after {timeout_s:.0f} s: {log.read_text()[-3000:]}")


@contextmanager
def served(name: str, command: list[str], port: int, work_dir: Path, *, workers: int, ready_path: str,
           env: dict[str, str] | None = None, timeout_s: float = 600.0) -> Iterator[Server]:
    log = work_dir / f"{name}-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})}, start_new_session=True)
    try:
        _wait_ready(f"http://{HOST}:{port}{ready_path}", proc, log, timeout_s, workers)
        yield Server(name, proc.pid, port, workers, log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
