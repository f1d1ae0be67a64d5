"""FHIR terminology speed over real HTTP: ``$lookup`` and ``$validate-code`` against ``/v1/codes`` in the same run.

``python -m bench.fhir_speed [--duration 20] [--connections 16] [--profile lookup] [--append-results]``

One ``codegraph serve`` (ready when ``/readyz`` answers, i.e. the release tables are built) on the graph of
``CODEGRAPH_*``/``NEO4J_*`` settings, which must hold ICD-10-CM FY2026 (loaded from the bundled tabular XML if
it is missing). wrk with 16 connections asks for random billable FY2026 codes; the ``/v1/codes`` baseline is
run before and after the FHIR rows and averaged, and each FHIR row's throughput is given as a ratio to it
(goal ≥ 0.8×). ``$expand`` of the largest chapter asks random pages of ``count=100``; its p99 is reported.

``--first-ask N`` measures instead, in process, the CPU (``time.process_time``) of a first ask — the answer built
and serialised before it is kept as bytes — for ``/v1/codes`` (``get_code_json``), ``$lookup`` and
``$validate-code``, on N distinct random billable codes each. ``--compare-tree DIR`` runs the same measurement
with the ``graph_service`` of another checkout (e.g. ``git archive`` of an earlier commit) in a subprocess,
interleaved round by round with this tree, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.engine_data import billable_codes
from bench.http_load import Requests, run_wrk, write_script
from bench.proc_cpu import TreeCpu
from bench.pyspy_profile import PySpyRecorder
from bench.served import ROOT, free_port, real_command, served
from codegraph.db import open_driver
from codegraph.settings import get_settings
from graph_service.security import Role, new_key
from loaders.bundled import bundled_datasets
from loaders.registry import load_source
from ontology.release_ranges import is_a_path, members, with_scope
from ontology.schema import apply_schema

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
RELEASE = "icd10cm@FY2026"
GOAL_RATIO = 0.8
LARGEST_CHAPTER = f"""
{with_scope()}
{members('scope', 'ch', 'm', label='ICD10CMChapter')}
RETURN ch.code AS code, COUNT {{ MATCH {is_a_path('ch', 'd', 'scope', '1,7', down=True)} }} AS size
ORDER BY size DESC LIMIT 1
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_release(driver: Any, database: str) -> None:
    apply_schema(driver, database)  # idempotent; the server is ready only with the whole schema in place
    records, _, _ = driver.execute_query("MATCH (r:Release {id: $id, status: 'visible'}) RETURN count(r) AS n",
                                         id=RELEASE, database_=database)
    if records[0]["n"]:
        return
    [ds] = [d for d in bundled_datasets() if d.source == "icd10cm" and d.version == "FY2026"]
    log(f"loading {RELEASE} from {ds.paths[0]}")
    load_source(driver, get_settings(), ds.source, list(ds.paths), ds.version)


def paths(codes: list[str], chapter: str, chapter_size: int) -> dict[str, list[str]]:
    lookups = [f"/fhir/CodeSystem/$lookup?{urlencode({'system': ICD, 'code': c})}" for c in codes]
    validates = [f"/fhir/CodeSystem/$validate-code?{urlencode({'url': ICD, 'code': c})}" for c in codes]
    pages = range(0, chapter_size + 1, 100)
    expands = [f"/fhir/ValueSet/$expand?{urlencode({'url': f'{ICD}?fhir_vs=isa/{chapter}', 'count': 100, 'offset': o})}"
               for o in pages]
    return {"v1": [f"/v1/codes/icd10cm/{c}" for c in codes], "lookup": lookups, "validate": validates,
            "expand": expands}


def ask_each_once(base: str, items: list[str], key: str) -> None:
    """Both APIs keep each answer of a release as bytes after its first ask: ask every request once first, so
    the timed run measures the steady state (a first ask costs the same order in both, see RESULTS)."""

    def ask(path: str) -> None:
        request = urllib.request.Request(base + path, headers={"X-API-Key": key})
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(ask, items))


def one_run(base: str, work: Path, name: str, items: list[str], key: str, connections: int, duration: float,
            warmup: float, pid: int) -> dict[str, Any]:
    """The wrk row, with the server's CPU per request (from /proc: less noisy than req/s on a shared machine)."""
    script = write_script(work, name, Requests(items=items, headers={"X-API-Key": key}))
    started = time.perf_counter()
    ask_each_once(base, items, key)
    log(f"  {name}: every request asked once in {time.perf_counter() - started:.1f} s")
    run_wrk(base, script, connections, warmup)
    before = TreeCpu(pid)
    result = run_wrk(base, script, connections, duration)
    cpu_ms = TreeCpu(pid).since(before) * 1000 / max(1, result.requests)
    if result.error_count:
        raise RuntimeError(f"{name}: wrk saw errors {result.errors}")
    log(f"  {name}: {result.rps:,.0f} req/s, p50 {result.latency_ms['p50']:.2f} ms, "
        f"p99 {result.latency_ms['p99']:.2f} ms, server CPU {cpu_ms:.3f} ms/req")
    return {**result.as_dict(), "server_cpu_ms_per_req": cpu_ms}


FIRST_ASKS = ("v1", "lookup", "validate")


def first_ask_cpu(codes: list[str]) -> dict[str, float]:
    """Mean CPU ms of a first ask per operation, in this process, each operation on its own codes."""
    from graph_service.fhir import lookup
    from graph_service.fhir.params import Inputs
    from graph_service.graph import Graph
    from graph_service.reference.store import ReferenceStore
    from graph_service.reference.warm import warm_reference_tables
    from graph_service.services.codes import get_code_json

    settings = get_settings()
    driver = open_driver(settings)
    store = ReferenceStore(driver, settings.neo4j_database, poll_s=settings.release_poll_s)
    try:
        store.start()
        graph = Graph(driver, settings.neo4j_database, store)
        warm_reference_tables(graph)
        ops = {
            "v1": lambda c: get_code_json(graph, "icd10cm", c, None, None),
            "lookup": lambda c: lookup.lookup(graph, Inputs({"system": [ICD], "code": [c]}, lookup.LOOKUP_PARAMS)),
            "validate": lambda c: lookup.validate(graph, Inputs({"url": [ICD], "code": [c]}, lookup.VALIDATE_PARAMS)),
        }
        per = len(codes) // len(ops)
        out = {}
        for i, (name, op) in enumerate(ops.items()):
            mine = codes[i * per:(i + 1) * per]
            op(mine[0])  # imports and lazily built tables out of the timing
            started = time.process_time()
            for code in mine[1:]:
                op(code)
            out[name] = (time.process_time() - started) * 1000 / (len(mine) - 1)
        return out
    finally:
        store.close()
        driver.close()


def first_ask_rows(args: argparse.Namespace, codes: list[str]) -> dict[str, Any]:
    """Rounds of this tree and, if given, the other tree (a subprocess), alternating; each round new codes."""
    rounds: dict[str, list[dict[str, float]]] = {"this": [], "other": []}
    rng = random.Random(7)
    for r in range(args.rounds):
        sample = rng.sample(codes, args.first_ask * len(FIRST_ASKS))
        trees = [("this", None), ("other", args.compare_tree)] if args.compare_tree else [("this", None)]
        for name, tree in (trees if r % 2 == 0 else trees[::-1]):
            env = {**os.environ, "PYTHONPATH": f"{tree}:{ROOT}" if tree else str(ROOT)}
            # This file's first_ask_cpu (older trees have none) over that tree's packages (first on the path).
            probe = ("import importlib.util, json, sys; spec = importlib.util.spec_from_file_location('probe', "
                     f"{str(Path(__file__).resolve())!r}); m = importlib.util.module_from_spec(spec); "
                     "spec.loader.exec_module(m); print(json.dumps(m.first_ask_cpu(json.load(sys.stdin))))")
            done = subprocess.run([sys.executable, "-c", probe],
                                  input=json.dumps(sample), env=env, cwd=tree or ROOT, capture_output=True,
                                  text=True, check=True)
            rounds[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
            log(f"  round {r + 1} {name}: " + ", ".join(f"{k} {v:.2f} ms" for k, v in rounds[name][-1].items()))
    mean = {name: {op: sum(x[op] for x in rows) / len(rows) for op in FIRST_ASKS} for name, rows in rounds.items()
            if rows}
    return {"rounds": rounds, "mean": mean, "load": " ".join(f"{x:.1f}" for x in os.getloadavg())}


def markdown(results: dict[str, Any], args: argparse.Namespace) -> str:
    r = results["runs"]
    v1_rps = results["v1_rps"]

    v1_cpu = (r["v1"]["server_cpu_ms_per_req"] + r["v1_again"]["server_cpu_ms_per_req"]) / 2

    def line(label: str, run: dict[str, Any], ratio: float | None, goal: str) -> str:
        lat = run["latency_ms"]
        met = "" if ratio is None else (" ✓" if ratio >= GOAL_RATIO else " ✗")
        cpu = run["server_cpu_ms_per_req"]
        return (f"| {label} | {run['rps']:,.0f} | {lat['p50']:.2f} | {lat['p99']:.2f} | "
                f"{'' if ratio is None else f'{ratio:.2f}×'}{met} | {cpu:.3f} | "
                f"{'' if ratio is None else f'{v1_cpu / cpu:.2f}×'} | {goal} |")

    out = ["## FHIR terminology speed (issue 13)", "",
           f"`python -m bench.fhir_speed --duration {args.duration:g} --connections {args.connections}` — "
           f"{results['started_at']}, commit `{results['commit']}`, one `codegraph serve` worker, wrk "
           f"{args.connections} connections × {args.duration:g} s per row after a warm-up, "
           f"{results['codes']:,} random billable FY2026 codes, each request asked once before its row (steady state: "
           f"both APIs keep a release's answers as bytes after the first ask); load average at start "
           f"{results['load_start']}.", "",
           "| request | req/s | p50 ms | p99 ms | ratio to /v1/codes | CPU ms/req | CPU ratio | goal |",
           "|---|---:|---:|---:|---:|---:|---:|---|",
           line("`GET /v1/codes/icd10cm/{code}` (baseline, run 1)", r["v1"], None, ""),
           line("`GET /fhir/CodeSystem/$lookup?system=…&code=…`", r["lookup"], r["lookup"]["rps"] / v1_rps, "≥ 0.8×"),
           line("`GET /fhir/CodeSystem/$validate-code?url=…&code=…`", r["validate"], r["validate"]["rps"] / v1_rps,
                "≥ 0.8×"),
           line("`GET /v1/codes/icd10cm/{code}` (baseline, run 2)", r["v1_again"], None, ""),
           line(f"`GET /fhir/ValueSet/$expand?url=…?fhir_vs=isa/{results['chapter']}&count=100&offset=…` "
                f"(largest chapter, {results['chapter_size']:,} descendants, random pages)", r["expand"], None,
                "p99 reported"),
           "", f"Ratios are against the mean of the two baseline runs ({v1_rps:,.0f} req/s, {v1_cpu:.3f} ms server "
           "CPU per request); the CPU ratio is the throughput the server's CPU alone would allow, relative to /v1."]
    if results.get("profile"):
        out += ["", f"py-spy of the `{args.profile}` row (server process):", "", "```",
                results["profile"], "```"]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--codes", type=int, default=1000, help="random billable codes in the request pool")
    parser.add_argument("--profile", choices=("lookup", "validate", "expand", "v1"), default=None)
    parser.add_argument("--append-results", action="store_true", help="append the section to bench/RESULTS.md")
    parser.add_argument("--first-ask", type=int, default=0, help="CPU of first asks in process, N codes each")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--compare-tree", default=None, help="another checkout to measure first asks with")
    args = parser.parse_args(argv)
    if args.first_ask == 1:
        parser.error("--first-ask needs at least 2 codes per operation (the first is the warm-up)")

    settings = get_settings()
    driver = open_driver(settings)
    try:
        ensure_release(driver, settings.neo4j_database)
        codes = random.Random(13).sample(billable_codes(driver, settings.neo4j_database), args.codes)
        records, _, _ = driver.execute_query(LARGEST_CHAPTER, release=RELEASE, database_=settings.neo4j_database)
        chapter, chapter_size = records[0]["code"], records[0]["size"]
        if args.first_ask:
            every = billable_codes(driver, settings.neo4j_database)
    finally:
        driver.close()
    if args.first_ask:
        print(json.dumps(first_ask_rows(args, every), indent=2))
        return
    commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    results: dict[str, Any] = {"started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit,
                               "codes": len(codes), "chapter": chapter, "chapter_size": chapter_size,
                               "load_start": " ".join(f"{x:.1f}" for x in os.getloadavg()), "runs": {}}
    key, line = new_key(Role.engine)
    requests = paths(codes, chapter, chapter_size)
    with tempfile.TemporaryDirectory(prefix="fhir-speed-") as tmp:
        work = Path(tmp)
        port = free_port()
        log(f"serving on {port}; largest chapter {chapter} ({chapter_size} descendants)")
        with served("codegraph", real_command(port, None), port, work, workers=1, ready_path="/readyz",
                    env={"CODEGRAPH_API_KEYS": line, "CODEGRAPH_API_WORKERS": "1"}) as server:
            for name, items in (("v1", requests["v1"]), ("lookup", requests["lookup"]),
                                ("validate", requests["validate"]), ("v1_again", requests["v1"]),
                                ("expand", requests["expand"])):
                recorder = None
                if args.profile and name == args.profile:
                    recorder = PySpyRecorder(server.pid, args.duration + args.warmup, work / f"{name}.pyspy")
                results["runs"][name] = one_run(server.base_url, work, name, items, key, args.connections,
                                                args.duration, args.warmup, server.pid)
                if recorder is not None:
                    results["profile"] = recorder.finish().render()
                time.sleep(1)
    results["v1_rps"] = (results["runs"]["v1"]["rps"] + results["runs"]["v1_again"]["rps"]) / 2
    results["ratios"] = {n: results["runs"][n]["rps"] / results["v1_rps"] for n in ("lookup", "validate")}
    print(json.dumps(results, indent=2, default=str))
    text = markdown(results, args)
    print(text)
    if args.append_results:
        with (ROOT / "bench" / "RESULTS.md").open("a") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
