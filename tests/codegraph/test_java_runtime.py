"""Which Java the local server runs on, and when its AOT cache is recorded, kept and mapped (the rules, on real
executables and files; tests/codegraph/test_aot_cache_server.py runs them on a real JDK 25 and Neo4j)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codegraph.runtime import java_runtime
from codegraph.runtime.java_runtime import (
    JavaNotFoundError,
    JavaRuntime,
    aot_args,
    aot_cache_file,
    find_java,
    keep_recording,
    prune_aot_files,
    recorder_lock,
)


def fake_jdk(root: Path, name: str, version: str, build: str) -> Path:
    """A JDK home whose ``bin/java -version`` says what a real one of that version says (on stderr)."""
    java = root / name / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2026-04-21 LTS' >&2\n"
                    f"echo 'OpenJDK Runtime Environment (build {build})' >&2\n")
    java.chmod(0o755)
    return java


@pytest.fixture
def jdks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    found = {
        "17": fake_jdk(tmp_path, "jdk17", "17.0.15", "17.0.15+6-Debian-1deb12u1"),
        "25": fake_jdk(tmp_path, "jdk25", "25.0.3", "25.0.3+9-LTS"),
        "21": fake_jdk(tmp_path, "jdk21", "21.0.7", "21.0.7+6-LTS"),
    }
    java_runtime.probe.cache_clear()
    monkeypatch.setattr(java_runtime, "installed_javas", lambda: [str(p) for p in found.values()])
    return found


def test_the_newest_tested_java_is_chosen(jdks: dict[str, Path]) -> None:
    runtime = find_java()
    assert (runtime.java, runtime.major, runtime.build) == (str(jdks["25"]), 25, "25.0.3+9-LTS")
    assert runtime.keeps_aot_cache


def test_an_untested_newer_java_is_passed_over(jdks: dict[str, Path], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    jdks["99"] = fake_jdk(tmp_path, "jdk99", "99", "99+1")
    monkeypatch.setattr(java_runtime, "installed_javas", lambda: [str(p) for p in jdks.values()])
    assert find_java().major == 25


def test_codegraph_java_names_the_runtime_by_home_or_executable(jdks: dict[str, Path], tmp_path: Path) -> None:
    assert find_java(tmp_path / "jdk17").major == 17
    assert find_java(jdks["21"]).major == 21
    too_old = fake_jdk(tmp_path, "jdk11", "11.0.2", "11.0.2+9")
    with pytest.raises(JavaNotFoundError, match="needs Java 17"):
        find_java(too_old)
    with pytest.raises(JavaNotFoundError, match="not a runnable java"):
        find_java(tmp_path / "nowhere" / "java")


def test_no_java_at_all_is_said_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(java_runtime, "installed_javas", lambda: [])
    with pytest.raises(JavaNotFoundError, match="Java 17 or newer is required"):
        find_java()


JDK25 = JavaRuntime("/opt/jdk25/bin/java", 25, "25.0.3+9-LTS")
ARGS = ["-Xms2g", "-Xmx2g", "-XX:+UseG1GC"]


def test_a_cache_is_only_shared_by_the_same_build_flags_heap_and_jars(tmp_path: Path) -> None:
    name = aot_cache_file(tmp_path, JDK25, ARGS, "jars/* 5.26.30")
    assert name == aot_cache_file(tmp_path, JDK25, list(ARGS), "jars/* 5.26.30")
    others = {
        aot_cache_file(tmp_path, JavaRuntime(JDK25.java, 25, "25.0.4+7-LTS"), ARGS, "jars/* 5.26.30"),
        aot_cache_file(tmp_path, JDK25, ["-Xms1g", "-Xmx1g", "-XX:+UseG1GC"], "jars/* 5.26.30"),
        aot_cache_file(tmp_path, JDK25, [*ARGS, "-XX:MaxGCPauseMillis=500"], "jars/* 5.26.30"),
        aot_cache_file(tmp_path, JDK25, ARGS, "jars/* 5.26.31"),
    }
    assert name not in others and len(others) == 4


def recording_of(cache_file: Path) -> Path:
    recording = cache_file.with_name("recording-1.aot")
    recording.write_bytes(b"an AOT cache")
    recording.with_name(recording.name + ".config").write_bytes(b"")
    return recording


def test_a_recording_is_kept_only_after_a_workload_and_never_over_a_cache(tmp_path: Path) -> None:
    cache_file = tmp_path / "neo4j.aot"
    brief = recording_of(cache_file)
    assert not keep_recording(brief, cache_file, recorded_s=3.0)  # started and stopped: nothing profiled
    assert not cache_file.exists() and list(tmp_path.iterdir()) == []

    worked = recording_of(cache_file)
    assert keep_recording(worked, cache_file, recorded_s=java_runtime.AOT_MIN_RECORDING_S + 1)
    assert cache_file.read_bytes() == b"an AOT cache" and sorted(tmp_path.iterdir()) == [cache_file]

    second = recording_of(cache_file)
    second.write_bytes(b"another server's recording")
    assert not keep_recording(second, cache_file, recorded_s=600.0)
    assert cache_file.read_bytes() == b"an AOT cache" and sorted(tmp_path.iterdir()) == [cache_file]


def test_a_start_maps_the_cache_or_records_one_unless_a_live_server_records_it(tmp_path: Path) -> None:
    cache_file, recording = tmp_path / "neo4j.aot", tmp_path / "recording-1.aot"
    assert aot_args(cache_file, recording, lambda pid: True) == [f"-XX:AOTCacheOutput={recording}"]

    recorder_lock(cache_file).write_text("4242\n")
    assert aot_args(cache_file, recording, lambda pid: pid == 4242) == []  # that server records it
    assert aot_args(cache_file, recording, lambda pid: False) == [f"-XX:AOTCacheOutput={recording}"]  # it died

    cache_file.write_bytes(b"an AOT cache")
    mapped = aot_args(cache_file, recording, lambda pid: True)
    assert mapped[0] == f"-XX:AOTCache={cache_file}"
    assert "-XX:+AOTCompileEagerly" in mapped  # the recorded methods compiled early


def aged(path: Path, content: bytes, now: float, age_s: float) -> Path:
    path.write_bytes(content)
    os.utime(path, (now - age_s, now - age_s))
    return path


def test_caches_nobody_maps_and_recordings_of_killed_servers_are_pruned(tmp_path: Path) -> None:
    now, day = 1_800_000_000.0, 86400.0
    unused = java_runtime.AOT_UNUSED_DAYS * day + 1
    in_use = aged(tmp_path / "neo4j-java25-aaaa.aot", b"mapped by this start", now, unused)
    old_flags = aged(tmp_path / "neo4j-java25-bbbb.aot", b"recorded before a JVM flag changed", now, unused)
    other_heap = aged(tmp_path / "neo4j-java25-cccc.aot", b"mapped by another state dir last week", now, 7 * day)
    killed = aged(tmp_path / "neo4j-java25-dddd.recording-01.aot", b"left by a killed recorder", now, 2 * 3600)
    killed_work = aged(tmp_path / "neo4j-java25-dddd.recording-01.aot.config", b"", now, 2 * 3600)
    recorder_lock(tmp_path / "neo4j-java25-dddd.aot").write_text("4242\n")
    live = aged(tmp_path / "neo4j-java25-eeee.recording-02.aot.config", b"", now, 2 * 3600)
    recorder_lock(tmp_path / "neo4j-java25-eeee.aot").write_text("4343\n")
    young = aged(tmp_path / "neo4j-java25-ffff.recording-03.aot.config", b"", now, 60)

    removed = prune_aot_files(tmp_path, in_use, lambda pid: pid == 4343, now)

    assert sorted(removed) == sorted([old_flags, killed, killed_work])
    assert in_use.stat().st_mtime == now  # touched: its age counts from its last start
    assert all(p.exists() for p in (in_use, other_heap, live, young))
    assert not any(p.exists() for p in removed)
