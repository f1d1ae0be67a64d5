"""One local server's part in the machine's AOT cache (``java_runtime``): which arguments its JVM starts with, the
marker that says it records, and what its stop does with the recording.

The marker (``<home>/run/aot-recording``) holds the recording's path, then the cache's; it is written once the
JVM exists, and its age is how long the recording ran.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path

from codegraph.runtime.java_runtime import (
    JavaRuntime,
    aot_args,
    aot_cache_file,
    discard_recording,
    keep_recording,
    prune_aot_files,
    recorder_lock,
)

Recording = tuple[Path, Path]  # an AOT recording's path, and the cache's it becomes when kept


class ServerAotCache:
    def __init__(self, marker: Path, alive: Callable[[int], bool]) -> None:
        self.marker = marker
        self.alive = alive

    def start_args(self, cache_dir: Path, runtime: JavaRuntime, jvm_args: list[str],
                   jars: str) -> tuple[list[str], Recording | None]:
        """The JVM's AOT arguments (map the cache, record it, or neither) and, when it records, the recording's
        and the cache's paths. Unused caches and killed recorders' leftovers are pruned first."""
        cache_file = aot_cache_file(cache_dir, runtime, jvm_args, jars)
        prune_aot_files(cache_dir, cache_file, self.alive, time.time())
        recording = cache_file.with_name(f"{cache_file.stem}.recording-{secrets.token_hex(4)}.aot")
        args = aot_args(cache_file, recording, self.alive)
        recorded = (recording, cache_file) if args and args[0].startswith("-XX:AOTCacheOutput") else None
        return args, recorded

    def note_started(self, pid: int, recorded: Recording | None) -> None:
        """Whether the JVM just started records the cache: the marker for its stop, the lock for other starts
        (they run without until it is kept)."""
        if recorded is None:
            self.marker.unlink(missing_ok=True)  # a killed recorder's, if any
            return
        recording, cache_file = recorded
        self.marker.write_text(f"{recording}\n{cache_file}\n")
        recorder_lock(cache_file).write_text(f"{pid}\n")

    def settle(self, exited: bool) -> None:
        """After the JVM has gone: a recording JVM writes its cache as it exits, kept if it exited by itself after
        a workload (``keep_recording``), else dropped (a killed JVM may have left it half written)."""
        try:
            recording, cache_file = (Path(p) for p in self.marker.read_text().split())
            recorded_s = time.time() - self.marker.stat().st_mtime
        except (FileNotFoundError, ValueError):
            return
        if exited:
            keep_recording(recording, cache_file, recorded_s)
        else:
            discard_recording(recording)
        recorder_lock(cache_file).unlink(missing_ok=True)
        self.marker.unlink(missing_ok=True)

    def state(self, pid: int | None) -> str:
        """What the running JVM ``pid`` does about the cache: ``recording`` (written when it stops), ``mapped``
        (started with one) or ``none``."""
        if pid is None:
            return "none"
        if self.marker.exists():
            return "recording"
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return "none"
        return "mapped" if any(arg.startswith(b"-XX:AOTCache=") for arg in cmdline) else "none"
