"""Issue 9's table in one command: every serving and loading row with its baseline measured in the same run.

Usage: python -m bench.engine_speed [--quick] [--only ROW …] [--duration S] [--json PATH] [--markdown PATH]
                                    [--profile ROW] [--workers N] [--discard-bench-ncci]

Rows: codes, what-if, claim-edits, descendants (served here: ``codegraph serve`` as a subprocess, loaded with
wrk) and the rows other bench modules contribute through ``engine_speed_rows(ctx)``: loads, audit_scaling,
snomed_rf2 (a module not written yet gives a row "not run (module missing)"). Uses NEO4J_URI if set, else the
local server from settings; loads what the selected rows need when it is missing (bench.engine_data).
Prints each row with the load average before and after it, then the table as Markdown; writes the rows as
JSON (default bench/engine_speed.json). ``--profile ROW`` runs py-spy on the server during that row's
measured run and prints the top 15 frames by own and by total time.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bench.common import BenchContext, Row, load_average, wait_for_quiet
from bench.engine_data import Need, discard_bench_ncci, ensure_data
from bench.engine_http_rows import HTTP_ROWS, HttpEnv
from bench.proc_cpu import pid_listening_on
from bench.served import ROOT, free_port, real_command, serve_supports_workers, served
from codegraph.db import open_driver
from codegraph.settings import Settings, get_settings
from graph_service.security import Role, new_key

# Modules of other benchmark owners and the rows they contribute; imported only if present.
MODULE_ROWS = {"loads": "bench.loads", "audit_scaling": "bench.audit_scaling", "snomed_rf2": "bench.snomed_rf2"}
ALL_ROWS = [*HTTP_ROWS, *MODULE_ROWS]
NEEDS = {"codes": Need(icd10cm=True), "descendants": Need(icd10cm=True), "what-if": Need(msdrg=True),
         "claim-edits": Need(icd10cm=True, ncci=True)}
DEFAULT_JSON = ROOT / "bench" / "engine_speed.json"
EXPORTED_COMMIT = "ENGINE_SPEED_EXPORTED_COMMIT"
HARNESS = {"engine_speed.py", "engine_http_rows.py", "engine_data.py", "http_load.py", "served.py", "proc_cpu.py",
           "pyspy_profile.py", "bare_app.py", "common.py"}


def run_from_export(ref: str, argv: list[str], json_path: Path, markdown_path: Path | None) -> int:
    """Run this command again inside a clean ``git archive`` of ``ref`` (with the working tree's bench/ copied
    over it), so the server measured is exactly that commit, whatever is being edited in the shared checkout."""
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    if not commit:
        raise SystemExit(f"--source {ref}: not a commit")
    src = Path(tempfile.mkdtemp(prefix=f"engine-speed-src-{commit[:8]}-"))
    try:
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
        # The harness as it is now; other bench modules as the commit has them (or as here, if it has none).
        for module in (ROOT / "bench").glob("*.py"):
            if module.name in HARNESS or not (src / "bench" / module.name).exists():
                shutil.copy2(module, src / "bench" / module.name)
        rest = [a for i, a in enumerate(argv) if a != "--source" and (i == 0 or argv[i - 1] != "--source")]
        rest = [a for a in rest if not a.startswith("--source=")]
        rest += ["--json", str(json_path.resolve())] + (["--markdown", str(markdown_path.resolve())]
                                                         if markdown_path else [])
        log(f"serving from a clean export of {ref} = {commit[:12]} in {src}")
        env = {**os.environ, "PYTHONPATH": str(src), EXPORTED_COMMIT: commit}
        child = subprocess.Popen([sys.executable, "-m", "bench.engine_speed", *rest], cwd=src, env=env)
        try:
            return child.wait()
        finally:
            if child.poll() is None:  # stopped from outside: the run stops its servers on SIGTERM
                child.terminate()
                child.wait(timeout=60)
    finally:
        shutil.rmtree(src, ignore_errors=True)


def log(message: str) -> None:
    print(message, flush=True)


def _load_text(load: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in load)


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip()


def code_state() -> dict[str, Any]:
    """The commit the server ran, and whether the serving/loading code had uncommitted edits then."""
    if exported := os.environ.get(EXPORTED_COMMIT):
        return {"commit": exported, "uncommitted_paths": [], "source": "clean export (--source)"}
    dirty = _git("status", "--porcelain", "--", "graph_service", "loaders", "codegraph", "ontology", "queries")
    return {"commit": _git("rev-parse", "HEAD"), "uncommitted_paths": dirty.splitlines()}


def module_rows(name: str, ctx: BenchContext) -> list[Row]:
    """The rows another module contributes, or one row saying why there are none."""
    module_name = MODULE_ROWS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return [Row(path=module_name, measured="not run (module missing)", goal="", met=None)]
    rows_of: Callable[[BenchContext], list[Row]] | None = getattr(module, "engine_speed_rows", None)
    if rows_of is None:
        return [Row(path=module_name, measured="not run (module missing engine_speed_rows)", goal="", met=None)]
    return rows_of(ctx)


def _failed(name: str, exc: BaseException) -> Row:
    traceback.print_exc()
    return Row(path=name, measured=f"failed: {type(exc).__name__}: {str(exc)[:300]}", goal="", met=None)


def run_rows(args: argparse.Namespace, settings: Settings, work_dir: Path) -> list[dict[str, Any]]:
    selected = args.only or ALL_ROWS
    results: list[dict[str, Any]] = []

    def record(name: str, produce: Callable[[], list[Row]]) -> None:
        waited, busy = wait_for_quiet(args.settle)
        before = load_average()
        log(f"\n== {name}  (load average {_load_text(before)}; waited {waited:.0f} s for the cores to settle, "
            f"{busy:.0%} busy)")
        t0 = time.perf_counter()
        try:
            rows = produce()
        except Exception as exc:  # one broken row must not lose the others' figures
            rows = [_failed(name, exc)]
        after = load_average()
        for row in rows:
            log(f"  -> {row.path}: {row.measured}" + (f" | baseline {row.baseline}" if row.baseline else "")
                + (f" | ratio {row.ratio}" if row.ratio is not None else "") + f" | goal {row.goal} | met {row.met}")
            results.append({"row": name, **row.as_dict(), "load_average_start": before, "load_average_end": after,
                            "settle": {"waited_s": waited, "cpu_busy_at_start": busy},
                            "seconds": round(time.perf_counter() - t0, 1)})
        log(f"== {name} done in {time.perf_counter() - t0:.0f} s (load average {_load_text(after)})")

    with open_driver(settings) as driver:
        ctx = BenchContext(driver=driver, settings=settings, work_dir=work_dir, quick=args.quick,
                           options={"duration_s": args.duration})
        http = [name for name in selected if name in HTTP_ROWS]
        if http:
            need = Need(**{k: any(getattr(NEEDS[n], k) for n in http) for k in ("icd10cm", "msdrg", "ncci")})
            t0 = time.perf_counter()
            ensure_data(driver, settings, need, log)
            log(f"data in place ({time.perf_counter() - t0:.0f} s)")
            _run_http_rows(args, ctx, http, record)
        for name in selected:
            if name in MODULE_ROWS:
                record(name, lambda name=name: module_rows(name, ctx))
        if args.discard_bench_ncci:
            discard_bench_ncci(driver, settings, log)
    return results


def _run_http_rows(args: argparse.Namespace, ctx: BenchContext, names: list[str],
                   record: Callable[[str, Callable[[], list[Row]]], None]) -> None:
    workers = args.server_workers
    key, line = new_key(Role.engine)
    bolt_port = urlparse(ctx.settings.bolt_uri).port
    neo4j_pid = pid_listening_on(bolt_port) if bolt_port else None
    log("server: codegraph serve on 127.0.0.1, a fresh one per row, "
        + (f"--workers {workers}" if workers else "one process (serve has no --workers)")
        + f"; Neo4j pid {neo4j_pid or 'not on this machine (its CPU is not measured)'}")

    def row(name: str) -> list[Row]:
        # A server per row: each row starts from the same state, and one that dies spoils only its own row.
        port = free_port()
        with served("codegraph", real_command(port, workers), port, ctx.work_dir, workers=workers or 1,
                    ready_path="/readyz", env={"CODEGRAPH_API_KEYS": line}) as server:
            env = HttpEnv(ctx=ctx, server=server, key=key, neo4j_pid=neo4j_pid, duration_s=args.duration,
                          warmup_s=2.0 if args.quick else 5.0, profile_row=args.profile, log=log)
            return [HTTP_ROWS[name](env)]

    for name in names:
        record(name, lambda name=name: row(name))


def markdown(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    out = [f"Commit `{meta['commit'][:12]}`" + (" (serving code had uncommitted edits)" if meta[
        "uncommitted_paths"] else "") + f", {meta['started_at']}, {meta['cpus']} CPUs, server workers "
        f"{meta['workers']}, load average at start {_load_text(meta['load_average_start'])}.", "",
        "| row | measured | baseline (same run) | ratio | goal | met | load avg start → end |",
        "|---|---|---|---:|---|---|---|"]
    for r in results:
        met = {True: "yes", False: "no", None: "–"}[r["met"]]
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.3g}"
        load = f"{r['load_average_start'][0]:.1f} → {r['load_average_end'][0]:.1f}"
        out.append(f"| {r['path']} | {r['measured']} | {r['baseline']} | {ratio} | {r['goal']} | {met} | {load} |")
    return "\n".join(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.engine_speed", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="short wrk runs and smaller sizes (a smoke run)")
    ap.add_argument("--only", nargs="+", choices=ALL_ROWS, metavar="ROW", help=f"rows to run: {', '.join(ALL_ROWS)}")
    ap.add_argument("--duration", type=float, default=None, help="seconds per wrk run (default 20, quick 5)")
    ap.add_argument("--workers", type=int, default=None, help="server workers (default: CPU count)")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"default {DEFAULT_JSON.relative_to(ROOT)}")
    ap.add_argument("--markdown", type=Path, default=None, help="also write the Markdown table here")
    ap.add_argument("--profile", choices=list(HTTP_ROWS), default=None,
                    help="py-spy the server during this row's measured run; prints the top frames")
    ap.add_argument("--source", metavar="REF", default=None,
                    help="measure a clean export of this commit (e.g. HEAD) instead of the shared working tree")
    ap.add_argument("--settle", type=float, default=120.0, metavar="S",
                    help="before each row, wait up to S seconds for the cores to be under 25%% busy (0: do not wait)")
    ap.add_argument("--discard-bench-ncci", action="store_true",
                    help="remove the synthetic NCCI quarter at the end (it is kept for the next run otherwise)")
    args = ap.parse_args(argv)
    if args.duration is None:
        args.duration = 5.0 if args.quick else 20.0
    if args.profile and args.only is None:
        args.only = [args.profile]
    return args


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds the context managers, which stop the servers this run started


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.source:
        raise SystemExit(run_from_export(args.source, argv, args.json, args.markdown))
    settings = get_settings()
    meta: dict[str, Any] = {**code_state(), "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                            "cpus": os.cpu_count(), "quick": args.quick, "duration_s": args.duration,
                            "load_average_start": load_average()}
    # None: `codegraph serve` has no --workers yet, so both servers run one process.
    args.server_workers = (args.workers or os.cpu_count() or 1) if serve_supports_workers() else None
    meta["workers"] = args.server_workers or 1
    log(f"engine speed: commit {meta['commit'][:12]}, load average {_load_text(meta['load_average_start'])}, "
        f"{meta['cpus']} CPUs, Neo4j {settings.bolt_uri}")
    work_dir = Path(tempfile.mkdtemp(prefix="engine-speed-"))
    results: list[dict[str, Any]] = []
    try:
        results = run_rows(args, settings, work_dir)
    finally:
        # Server logs and profiles stay when they are wanted: a profile run, or a row that failed.
        keep = args.profile is not None or not results or any(r["measured"].startswith("failed") for r in results)
        if not keep:
            shutil.rmtree(work_dir, ignore_errors=True)
    meta["load_average_end"] = load_average()
    table = markdown(results, meta)
    log(f"\nload average at end {_load_text(meta['load_average_end'])}\n\n{table}")
    args.json.write_text(json.dumps({"meta": meta, "rows": results}, indent=2, default=str) + "\n")
    log(f"\nJSON: {args.json}")
    if args.markdown:
        args.markdown.write_text(table + "\n")
        log(f"Markdown: {args.markdown}")
    if keep:
        log(f"profiles and server logs kept in {work_dir}")


if __name__ == "__main__":
    main()
