"""Provision, start, stop and inspect the project's own Neo4j 5.26 Community server.

The server runs from the Maven Central jars (there is no tarball there): the jars are
copied into ``<home>/lib`` by Maven (through a per-machine jar cache), a ``neo4j.conf`` is generated into
``<home>/conf``, and ``org.neo4j.server.CommunityEntryPoint`` is launched in console mode as a child
process detached from the caller's session, with a pid file beside it.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from neo4j import GraphDatabase
from neo4j.exceptions import AuthError, DatabaseUnavailable, ServiceUnavailable

from codegraph.runtime.java_runtime import JavaNotFoundError, JavaRuntime, find_java
from codegraph.runtime.server_aot import Recording, ServerAotCache
from codegraph.settings import NEO4J_VERSION, Settings

ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
ADMIN_ENTRY_POINT = "org.neo4j.server.startup.Neo4jAdminCommand"

# The JVM flags of the 5.26 default neo4j.conf (server.jvm.additional), less -XX:+AlwaysPreTouch (pre-touching
# the heap slows start-up on a shared 2-core machine) and with the parallel collector in place of G1 (last).
JVM_FLAGS = (
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "-XX:FlightRecorderOptions=stackdepth=256",
    "-XX:+UnlockDiagnosticVMOptions",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
    "-Dlog4j.layout.jsonTemplate.maxStringLength=32768",
    # This server's work is loads (throughput), and its serving paths read reference data the service holds in
    # memory, so G1's short pauses buy little and its write barriers and concurrent marking cost CPU on two cores.
    # The annual set on a just-started server: 33-40 s with the parallel collector against 39-48 s with G1 (young
    # generation floored at 30 %, as the server ran before), 8 of 8 alternated pairs, GC CPU 2-3 s against 4-9 s
    # (bench/RESULTS.md, session 19). Larger write batches than the default 5,000 rows cost more in GC than they
    # save in commits (10k: 37-39 s, 20k: 37 s).
    "-XX:+UseParallelGC",
    # A server is started for a load and compiles Neo4j's write path while it runs: on two cores the C2 compiler
    # took 17-19 s of the annual set's ~50 s of server CPU, competing with the writes. Smaller inlining budgets
    # (defaults: 325 bytes of bytecode, 2,500 bytes of compiled code) make each C2 compilation cheaper: C2 9-11 s,
    # the set 26-30 s against 31-32 s, and no more CPU in the Bolt workers (bench/RESULTS.md, session 22). Neo4j's
    # own -XX:+DebugNonSafepoints is left out too: it only sharpens profilers' stacks, and costs every compilation.
    "-XX:FreqInlineSize=100",
    "-XX:InlineSmallCode=1000",
)


def _bytes(size: str) -> int:
    """A Neo4j memory size (``768m``, ``2g``, ``512k``, plain bytes) in bytes."""
    text = size.strip().lower()
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def fraction_of(size: str, fraction: float) -> str:
    return f"{max(int(_bytes(size) * fraction) >> 20, 64)}m"


def quarter_of(size: str) -> str:
    return fraction_of(size, 0.25)


# Crash recovery replays the transaction logs before Bolt opens; after a kill during a big load it took ~200 s.
# While debug.log shows it progressing, the start waits beyond its timeout (up to this long).
RECOVERY_LIMIT_S = 3600.0
_RECOVERY_REQUIRED = re.compile(r"recovery is required", re.IGNORECASE)
_RECOVERY_PERCENT = re.compile(r"\[o\.n\.k\.r\.Recovery\].*?(\d+)% completed")
_RECOVERY_DONE = re.compile(r"Recovery in '\w+' mode completed|Recovery completed", re.IGNORECASE)


class RecoveryWatch:
    """Follows ``debug.log`` from an offset: is the server replaying its transaction logs, how far is it."""

    def __init__(self, debug_log: Path, offset: int) -> None:
        self.debug_log = debug_log
        self.offset = offset
        self.state: str | None = None  # None | "recovering" | "recovered"
        self.percent: int | None = None
        self.failed: str | None = None  # the log line saying a database failed to start
        # Failures count only in what this start wrote, not in older lines read back for a running server.
        self.offset_was_end = not debug_log.exists() or offset >= debug_log.stat().st_size

    @classmethod
    def from_end(cls, debug_log: Path, back: int = 0) -> RecoveryWatch:
        size = debug_log.stat().st_size if debug_log.exists() else 0
        return cls(debug_log, max(0, size - back))

    def poll(self) -> None:
        try:
            with self.debug_log.open("rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except FileNotFoundError:
            return
        end = chunk.rfind(b"\n") + 1  # whole lines only; the rest is read next time
        self.offset += end
        for line in chunk[:end].decode(errors="replace").splitlines():
            if _RECOVERY_REQUIRED.search(line):
                self.state, self.percent = "recovering", 0
            elif (m := _RECOVERY_PERCENT.search(line)) and self.state == "recovering":
                self.percent = int(m.group(1))
            elif _RECOVERY_DONE.search(line) and self.state == "recovering":
                self.state = "recovered"
            if self.offset_was_end and ("Failed to start DatabaseId" in line or "recovery not possible" in line):
                self.failed = self.failed or line.strip()


def jar_cache_dir() -> Path:
    """Where Maven's copy of the server jars is kept for every state dir on this machine."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "codegraph" / f"neo4j-{NEO4J_VERSION}-lib"


def _is_complete(lib: Path) -> bool:
    marker = lib / ".version"
    return marker.exists() and marker.read_text().strip() == NEO4J_VERSION


def _copy_from_maven(lib: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalNeo4jError("Maven (mvn) is required to provision Neo4j from Maven Central")
    pom = resources.files("codegraph.runtime").joinpath("pom.xml")
    with resources.as_file(pom) as pom_path:
        cmd = [mvn, "-q", "-B", "-f", str(pom_path), f"-Dneo4j.version={NEO4J_VERSION}",
               "dependency:copy-dependencies", f"-DoutputDirectory={lib}"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LocalNeo4jError(f"mvn failed ({done.returncode}): {done.stdout[-2000:]}{done.stderr[-2000:]}")
    if not any(lib.glob("neo4j-kernel-*.jar")):
        raise LocalNeo4jError(f"mvn copied no neo4j-kernel jar into {lib}")


def _fill_jar_cache(cache: Path) -> None:
    """Maven into a private directory renamed into place whole: a concurrent start sees all the jars or none."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    staging = cache.parent / f".{cache.name}.{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        _copy_from_maven(staging)
        (staging / ".version").write_text(NEO4J_VERSION + "\n")
        if cache.exists() and not _is_complete(cache):  # only ever renamed in whole: this is no live fill
            shutil.rmtree(cache)
        with contextlib.suppress(OSError):  # another start filled it first; theirs is as good
            staging.rename(cache)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not _is_complete(cache):
        raise OSError(f"no complete jar cache at {cache}")


def _link_tree(cache: Path, lib: Path) -> None:
    """The cache's jars into ``lib``: hard links on the same file system, copies elsewhere."""
    lib.mkdir(parents=True)
    for jar in cache.glob("*.jar"):
        try:
            os.link(jar, lib / jar.name)
        except OSError:
            shutil.copy2(jar, lib / jar.name)


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap our own exited child so it is not seen as alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalNeo4jError(RuntimeError):
    """The local server could not be provisioned, started or stopped."""


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    bolt_uri: str
    home: Path
    version: str | None
    log_file: Path
    java: str | None = None  # the java the server runs on (its executable)
    aot: str = "none"  # LocalNeo4j.aot_state


class LocalNeo4j:
    """One local Neo4j server under ``settings.neo4j_home``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.neo4j_home
        self.lib_dir = self.home / "lib"
        self.plugins_dir = self.home / "plugins"
        self.conf_dir = self.home / "conf"
        self.logs_dir = self.home / "logs"
        self.pid_file = self.home / "run" / "neo4j.pid"
        self.console_log = self.logs_dir / "console.log"
        self.aot = ServerAotCache(self.home / "run" / "aot-recording", _alive)

    # -- provisioning -------------------------------------------------------------------
    def is_provisioned(self) -> bool:
        return _is_complete(self.lib_dir)

    def provision(self) -> None:
        """Put the Neo4j server jars into ``<home>/lib`` (once per version and state dir).

        Maven resolves them once per machine into a jar cache (``jar_cache_dir``); each new state dir then links
        or copies them from there, in a fraction of a second instead of Maven's 3.5-7 s (a fresh demo's start)."""
        if self.is_provisioned():
            return
        self._require_java()
        if self.lib_dir.exists():
            shutil.rmtree(self.lib_dir)
        self.plugins_dir.mkdir(parents=True, exist_ok=True)
        cache = jar_cache_dir()
        try:
            if not _is_complete(cache):
                _fill_jar_cache(cache)
            _link_tree(cache, self.lib_dir)
        except OSError:  # no writable cache here: Maven straight into the state dir, as before the cache
            shutil.rmtree(self.lib_dir, ignore_errors=True)
            self.lib_dir.mkdir(parents=True)
            _copy_from_maven(self.lib_dir)
        (self.lib_dir / ".version").write_text(NEO4J_VERSION + "\n")

    def java_runtime(self) -> JavaRuntime:
        try:
            return find_java(self.settings.java)
        except JavaNotFoundError as exc:
            raise LocalNeo4jError(str(exc)) from exc

    def _require_java(self) -> str:
        return self.java_runtime().java

    def write_config(self) -> None:
        s = self.settings
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        port = s.local_bolt_port
        lines = [
            "# Generated by codegraph; edit settings via CODEGRAPH_* env vars, not here.",
            f"server.bolt.listen_address=127.0.0.1:{port}",
            f"server.bolt.advertised_address=127.0.0.1:{port}",
            "server.http.enabled=false",
            "server.https.enabled=false",
            "dbms.usage_report.enabled=false",
            "dbms.security.auth_enabled=true",
            # Auditors' read queries must not read the host's files.
            "dbms.security.allow_csv_import_from_file_urls=false",
            f"server.directories.import={self.home / 'import'}",
            f"server.memory.heap.initial_size={s.local_heap}",
            f"server.memory.heap.max_size={s.local_heap}",
            f"server.memory.pagecache.size={s.local_pagecache}",
            # Every transaction (an auditor's collect over a cartesian product included) fails alone with a
            # memory error before it can exhaust the pool all transactions share (70% of the heap).
            f"db.memory.transaction.max={s.local_tx_memory_max or quarter_of(s.local_heap)}",
            f"dbms.memory.transaction.total.max={fraction_of(s.local_heap, 0.7)}",
            "db.logs.query.enabled=OFF",
            # Pruned at each checkpoint down to this; recovery only ever needs the log since the last checkpoint.
            f"db.tx_log.rotation.retention_policy={s.local_tx_log_retention}",
            "server.jvm.additional=" + " ".join(JVM_FLAGS),
        ]
        (self.conf_dir / "neo4j.conf").write_text("\n".join(lines) + "\n")

    def jvm_args(self) -> list[str]:
        heap = self.settings.local_heap
        return [f"-Xms{heap}", f"-Xmx{heap}", *JVM_FLAGS]

    def _classpath(self) -> str:
        return f"{self.plugins_dir}/*:{self.lib_dir}/*"

    def _server_classpath(self, runtime: JavaRuntime, jvm_args: list[str]) -> tuple[str, list[str], Recording | None]:
        """The server's classpath, its AOT cache arguments (``server_aot``) and, when it records the cache, the
        recording's and the cache's paths. On a JDK that keeps one, with no plugins, the server runs from the
        machine's jar cache, so that every state dir maps the same AOT cache."""
        cache = jar_cache_dir()
        if not runtime.keeps_aot_cache or not _is_complete(cache) or any(self.plugins_dir.glob("*.jar")):
            return self._classpath(), [], None
        classpath = f"{cache}/*"
        args, recorded = self.aot.start_args(cache.parent, runtime, jvm_args, f"{classpath} {NEO4J_VERSION}")
        return classpath, args, recorded

    def _java_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["NEO4J_HOME"] = str(self.home)
        env["NEO4J_CONF"] = str(self.conf_dir)
        return env

    def _ensure_password(self) -> str:
        """Generate the password once and set it before the database first starts."""
        pw_file = self.settings.password_file
        initialised = (self.home / "data" / "databases" / "system").exists()
        if self.settings.neo4j_password is not None:
            password = self.settings.neo4j_password.get_secret_value()
            if initialised and pw_file.exists():
                # e.g. after `eval "$(codegraph neo4j env)"`: the exported password is the stored one, already set
                return password
        elif pw_file.exists():
            return pw_file.read_text().strip()
        else:
            # Never a leading '-': neo4j-admin's set-initial-password would read the password as an option.
            password = "p" + secrets.token_urlsafe(24)
        if initialised:
            raise LocalNeo4jError(
                f"{self.home}/data exists but {pw_file} is missing: the initial password cannot be set "
                "again; restore the file, set NEO4J_PASSWORD, or remove the state dir"
            )
        java = self._require_java()
        cmd = [java, "-cp", self._classpath(), ADMIN_ENTRY_POINT, "dbms", "set-initial-password", password]
        done = subprocess.run(cmd, capture_output=True, text=True, env=self._java_env(), check=False)
        if done.returncode != 0:
            raise LocalNeo4jError(f"set-initial-password failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")
        pw_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        os.chmod(pw_file, 0o600)
        return password

    # -- lifecycle ----------------------------------------------------------------------
    def _read_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def start(self, report: Callable[[str], None] = lambda _msg: None) -> ServerStatus:
        """Provision if needed, start if not running, and wait until Bolt and the database answer. Idempotent.

        After an unclean shutdown the server first replays its transaction logs; the start then says so through
        ``report`` and waits for the recovery to complete, however long past the start timeout it takes."""
        self.provision()
        self.write_config()
        password = self._ensure_password()
        pid = self._read_pid()
        debug_log = self.logs_dir / "debug.log"
        # A server started by someone else may be recovering already: look back over the recent log too.
        watch = RecoveryWatch.from_end(debug_log, back=0 if pid is None else 1 << 20)
        if pid is None:
            for sub in ("logs", "run", "data", "import", "plugins"):
                (self.home / sub).mkdir(parents=True, exist_ok=True)
            runtime = self.java_runtime()
            jvm_args = self.jvm_args()
            classpath, aot, recorded = self._server_classpath(runtime, jvm_args)
            cmd = [
                runtime.java, *jvm_args, *aot, "-cp", classpath, ENTRY_POINT,
                f"--home-dir={self.home}", f"--config-dir={self.conf_dir}", "--console-mode",
            ]
            log = open(self.console_log, "ab")  # noqa: SIM115 - handed to the child process
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self._java_env(), cwd=self.home, start_new_session=True,
            )
            log.close()
            self.pid_file.write_text(f"{proc.pid}\n")
            pid = proc.pid
            self.aot.note_started(pid, recorded)
        self._wait_for_bolt(pid, password, watch, report)
        return self.status()

    def _wait_for_bolt(self, pid: int, password: str, watch: RecoveryWatch, report: Callable[[str], None]) -> None:
        timeout_s = self.settings.local_start_timeout_s
        started = time.monotonic()
        deadline = started + timeout_s
        last_error: Exception | None = None
        said: tuple[str | None, int | None] = (None, None)
        while time.monotonic() < deadline:
            if self._read_pid() is None:
                raise LocalNeo4jError(
                    f"Neo4j (pid {pid}) exited during start-up; see {self.console_log}:\n{self._log_tail()}"
                )
            watch.poll()
            if watch.failed:
                raise LocalNeo4jError(
                    f"Neo4j is running but a database did not start: {watch.failed[:500]}; see {watch.debug_log}"
                )
            if watch.state == "recovering":
                # Progress, not a hang: the deadline moves with it (a stuck recovery still ends at the limit).
                deadline = max(deadline, min(time.monotonic() + timeout_s, started + RECOVERY_LIMIT_S))
            if (watch.state, watch.percent) != said and watch.state is not None:
                said = (watch.state, watch.percent)
                report(f"Neo4j is recovering after an unclean shutdown ({watch.percent}% replayed); waiting for it "
                       f"to finish, past the {timeout_s:.0f}s start timeout if need be" if watch.state == "recovering"
                       else f"Neo4j recovered after {time.monotonic() - started:.0f}s; opening the database")
            try:
                with GraphDatabase.driver(
                    self.settings.bolt_uri, auth=(self.settings.neo4j_user, password),
                    connection_timeout=2.0,
                ) as driver:
                    driver.verify_connectivity()
                    driver.execute_query("RETURN 1", database_=self.settings.neo4j_database)
                    return
            except AuthError as exc:
                raise LocalNeo4jError(f"Neo4j refused the stored password: {exc}") from exc
            except (ServiceUnavailable, DatabaseUnavailable, OSError) as exc:
                last_error = exc
                time.sleep(0.25)
        raise LocalNeo4jError(
            f"Bolt on {self.settings.bolt_uri} did not answer within {time.monotonic() - started:.0f}s "
            f"({last_error}); see {self.console_log}:\n{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.console_log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log yet)"

    def stop(self, timeout_s: float = 60.0) -> bool:
        """SIGTERM the server and wait for it to exit; returns whether one was running."""
        pid = self._read_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        exited = False
        # The JVM, not the pid file: Neo4j removes its pid file as it shuts down, and a JVM recording an AOT cache
        # writes it after that.
        while time.monotonic() < deadline:
            if not _alive(pid):
                exited = True
                break
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
        self.pid_file.unlink(missing_ok=True)
        self.aot.settle(exited)
        return True

    def aot_state(self) -> str:
        """What the running server does about an AOT cache: ``recording``, ``mapped`` or ``none``."""
        return self.aot.state(self._read_pid())

    def status(self) -> ServerStatus:
        pid = self._read_pid()
        version: str | None = None
        if pid is not None:
            try:
                with GraphDatabase.driver(
                    self.settings.bolt_uri,
                    auth=(self.settings.neo4j_user, self.settings.resolved_password()),
                    connection_timeout=2.0,
                ) as driver:
                    version = driver.get_server_info().agent
            except Exception:  # status must answer even when the server is half up
                version = None
        return ServerStatus(
            running=pid is not None, pid=pid, bolt_uri=self.settings.bolt_uri, home=self.home,
            version=version, log_file=self.console_log, java=self._running_java(pid), aot=self.aot_state(),
        )

    @staticmethod
    def _running_java(pid: int | None) -> str | None:
        try:
            return os.readlink(f"/proc/{pid}/exe") if pid is not None else None
        except OSError:
            return None
