"""The Java the local Neo4j runs on, and the ahead-of-time cache a JDK 25 or newer keeps for it.

Neo4j 5.26 runs on Java 17 or newer. Where several JDKs are installed, the newest tested one is chosen
(``CODEGRAPH_JAVA`` names one instead). On this machine kind JDK 25 alone loads the FY2026 annual set on a
just-started server 9-27 % sooner than JDK 17 (bench/RESULTS.md, session 18).

A JDK 25 also keeps an **AOT cache** (JEP 483, 514, 515): the classes Neo4j loads and links, and the method profiles
its JIT compiles from, recorded over one server's life and written when it stops. Every later start maps it. The
server is then ready sooner (5-6 s instead of 7-9 s), and its write path is compiled from the recorded profiles
instead of being profiled again: the annual set on a just-started server took 8-15 % less than on JDK 25 without it.

The cache is only valid for the JVM that recorded it: the same Java build, JVM flags, heap size and jars. So its
file name carries a digest of all four (``aot_cache_file``), and a server on another combination records its own.
Every server on the machine runs from the one jar cache (``local_server.jar_cache_dir``), so every state dir
shares it. A JVM that cannot map a cache warns and runs without it. A server that finds no cache records one,
unless another live server is recording it already. A cache is only ever taken whole: a recording is written under
a name of its own and renamed into place once its server has exited by itself, after at least a minute's work.

Caches nobody maps any more (another JDK build, changed JVM flags, a heap size no state dir uses) and recordings
whose server was killed before it could keep them are ~175 MB each, so every start prunes them (``prune_aot_files``):
a start touches the cache it maps, and a cache untouched for ``AOT_UNUSED_DAYS`` is removed, as is a recording
(or its work file) older than an hour whose recorder is not alive.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# Newest first. Neo4j 5.26 supports 17 and 21; this project's tests also run it on 25.
TESTED_MAJORS = (25, 21, 17)
MIN_MAJOR = 17
AOT_MIN_MAJOR = 25
# A recording is kept only from a server that ran this long: one started and stopped at once (a status check, a
# test of start-up) has profiled nothing of a load, and the first cache kept is the one every later start maps.
AOT_MIN_RECORDING_S = 60.0
# A cache no start has mapped for this long is removed. A server up longer still maps it: Linux keeps an unlinked
# file's mapping, and that server's next start records the cache again.
AOT_UNUSED_DAYS = 14
ORPHAN_AGE_S = 3600.0  # a recording this old whose recorder is gone was left by a killed server
_VERSION = re.compile(r'version "(\d+)(?:\.[^"]*)?"')
_BUILD = re.compile(r"\(build ([^),]+)")


class JavaNotFoundError(RuntimeError):
    """No Java the server can run on."""


@dataclass(frozen=True)
class JavaRuntime:
    java: str  # the java executable
    major: int
    build: str  # the runtime's full build, e.g. 25.0.3+9-LTS: an AOT cache is only valid for the build that made it

    @property
    def keeps_aot_cache(self) -> bool:
        return self.major >= AOT_MIN_MAJOR


@cache
def probe(java: str) -> JavaRuntime | None:
    """``java -version`` read; None when it is not a runnable Java."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False, timeout=30).stderr
    except OSError:
        return None
    version, build = _VERSION.search(out), _BUILD.search(out)
    if version is None:
        return None
    return JavaRuntime(java, int(version.group(1)), build.group(1) if build else version.group(0))


def installed_javas() -> list[str]:
    """Java executables this machine offers: ``JAVA_HOME``'s, the one on ``PATH``, and the JDKs under
    ``/usr/lib/jvm`` (Debian's and Temurin's packages install there)."""
    found: list[str] = []
    if home := os.environ.get("JAVA_HOME"):
        found.append(str(Path(home) / "bin" / "java"))
    if on_path := shutil.which("java"):
        found.append(on_path)
    found += sorted(str(p) for p in Path("/usr/lib/jvm").glob("*/bin/java"))
    return list(dict.fromkeys(os.path.realpath(j) for j in found if os.access(j, os.X_OK)))


def find_java(named: str | Path | None = None) -> JavaRuntime:
    """``named`` (a java executable or a JDK home) if given, else the newest tested Java installed (an untested
    one only when there is no tested one)."""
    if named is not None:
        path = Path(named)
        java = str(path / "bin" / "java") if path.is_dir() else str(path)
        runtime = probe(java)
        if runtime is None:
            raise JavaNotFoundError(f"CODEGRAPH_JAVA={named} is not a runnable java")
        if runtime.major < MIN_MAJOR:
            raise JavaNotFoundError(f"Neo4j 5.26 needs Java {MIN_MAJOR}+, CODEGRAPH_JAVA={named} is {runtime.major}")
        return runtime
    runtimes = [r for j in installed_javas() if (r := probe(j)) is not None and r.major >= MIN_MAJOR]
    if not runtimes:
        raise JavaNotFoundError(f"Java {MIN_MAJOR} or newer is required to run Neo4j 5.26 (none on PATH, in "
                                "JAVA_HOME or under /usr/lib/jvm)")
    return max(runtimes, key=lambda r: (r.major in TESTED_MAJORS, r.major))


def aot_cache_file(cache_dir: Path, runtime: JavaRuntime, jvm_args: list[str], jars: str) -> Path:
    """Where the AOT cache of this Java build, these JVM arguments and this jar set is kept."""
    key = "\n".join([runtime.build, *jvm_args, jars])
    return cache_dir / f"neo4j-java{runtime.major}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.aot"


# Only with a mapped cache: a JVM without training data has nothing to compile eagerly.
MAPPED_CACHE_FLAGS = ("-XX:+UnlockExperimentalVMOptions", "-XX:+AOTCompileEagerly")


def aot_args(cache_file: Path, recording: Path, alive: Callable[[int], bool]) -> list[str]:
    """Map the cache if there is one; otherwise record one at ``recording`` (written when the JVM exits), unless
    another live server is recording it already (``recorder_lock``): one recording at a time is enough, and each
    costs its server's stop ~25 s of assembly. With a mapped cache the recorded methods are compiled as soon as
    their classes are initialised (``AOTCompileEagerly``), not after the usual invocation counts."""
    if cache_file.is_file() and cache_file.stat().st_size > 0:
        return [f"-XX:AOTCache={cache_file}", *MAPPED_CACHE_FLAGS]
    if _recorder_alive(cache_file, alive):
        return []
    return [f"-XX:AOTCacheOutput={recording}"]


def recorder_lock(cache_file: Path) -> Path:
    """Names the JVM recording ``cache_file`` (its pid), while it runs."""
    return cache_file.with_name(cache_file.name + ".recorder")


def keep_recording(recording: Path, cache_file: Path, recorded_s: float) -> bool:
    """After a recording JVM that ran ``recorded_s`` exited by itself: its cache renamed into place, unless it ran
    too briefly to have profiled a workload or another server's got there first. Returns whether it was kept."""
    kept = False
    if (recorded_s >= AOT_MIN_RECORDING_S and recording.is_file() and recording.stat().st_size > 0
            and not cache_file.exists()):
        os.replace(recording, cache_file)
        kept = True
    discard_recording(recording)
    return kept


def discard_recording(recording: Path) -> None:
    """A recording and the JVM's work file beside it (``<name>.config``)."""
    for leftover in (recording, recording.with_name(recording.name + ".config")):
        leftover.unlink(missing_ok=True)


def prune_aot_files(cache_dir: Path, in_use: Path, alive: Callable[[int], bool], now: float) -> list[Path]:
    """Remove the caches no start has mapped for ``AOT_UNUSED_DAYS`` (``in_use``, the one this start maps or
    records, is touched and kept) and the recordings a killed server left; returns what was removed."""
    if in_use.is_file():
        os.utime(in_use, (now, now))
    removed: list[Path] = []
    for path in cache_dir.glob("neo4j-java*.aot*"):
        try:
            age = now - path.stat().st_mtime
        except FileNotFoundError:
            continue
        if ".recording-" in path.name:
            cache_file = path.with_name(path.name.split(".recording-")[0] + ".aot")
            if age < ORPHAN_AGE_S or _recorder_alive(cache_file, alive):
                continue
        elif path.suffix != ".aot" or path == in_use or age < AOT_UNUSED_DAYS * 86400:
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _recorder_alive(cache_file: Path, alive: Callable[[int], bool]) -> bool:
    try:
        return alive(int(recorder_lock(cache_file).read_text().split()[0]))
    except (FileNotFoundError, ValueError, IndexError):
        return False
