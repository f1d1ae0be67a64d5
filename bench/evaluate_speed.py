"""POST /v1/assignments/evaluate at coding-engine speed (issue 12).

Usage: python -m bench.evaluate_speed [--claims 200] [--batch 1000] [--duration 20] [--connections 16]
                                     [--workers N] [--history] [--profile] [--batch-only] [--rounds N]

Each request is an inline inpatient encounter (FY2026 discharge) with 15 ICD-10-CM diagnoses (principal + 14
secondary, all POA), 6 ICD-10-PCS procedures and 20 evidence items (one per coded diagnosis, two documented
CC/MCC conditions left uncoded, one condition documented as an admission reason, three procedure statements),
so every evaluation validates, runs the MCE, links evidence, groups the claim and tries its alternatives.
Measured in the same run:

1. HTTP: wrk with ``--connections`` (16) against a real ``codegraph serve`` (p50/p99, req/s, server CPU/req);
   ``--profile`` runs py-spy on the server during that run.
2. Batch: 1,000 evaluations in process (``services.evaluation.evaluate``) against msdrg alone grouping the same
   claims — the base claim and each alternative the evaluation groups — in one process; the ratio compares
   groupings per second (and evaluations/s against base claims/s is printed beside it), in wall time and in
   the process's CPU time (the CPU ratio holds on a busy machine, where wall time moves with the load).
   ``--batch-only`` skips the HTTP row (before/after comparisons of the in-process path, run alternately).

Uses NEO4J_URI if set, else the local server from settings (start it first: ``codegraph neo4j start``); loads
ICD-10-CM FY2026, MS-DRG FY2026 and the coding rules when they are missing (a fresh state dir: a few minutes).
History is off by default (it is a graph read; ``--history`` turns it on). Pass ``--workers`` (2 on a 2-core
machine): without it the server starts its default worker count but the run waits for one worker only.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import msdrg

from bench.common import load_average
from bench.drg_grouping import MCC_TO_ADD, PRINCIPALS, PROCEDURES, SECONDARIES
from bench.engine_data import Need, ensure_data
from bench.http_load import Requests, run_wrk, write_script
from bench.proc_cpu import TreeCpu
from bench.pyspy_profile import PySpyRecorder
from bench.served import free_port, real_command, served
from codegraph.db import open_driver
from codegraph.settings import get_settings
from graph_service.graph import Graph
from graph_service.models.evaluation import EvaluateIn
from graph_service.reference.store import ReferenceStore
from graph_service.security import Role, new_key
from graph_service.services.drg_grouper import grouper_for
from graph_service.services.evaluation import evaluate
from graph_service.services.evaluation.case import build_case
from graph_service.services.evaluation.optimal import _alternatives, base_claim
from graph_service.services.evaluation.supported import Documented
from loaders.registry import load_source
from loaders.rules.records import BUNDLED as RULES_FILE

# More FY2026 billable secondaries so that every claim has 14 distinct ones besides its principal.
MORE_SECONDARIES = ["E78.00", "K21.9", "F32.A", "G47.33", "M81.0", "Z95.1", "I25.10", "E03.9", "D64.9", "Z87.891",
                    "N40.0", "J45.909"]
UNCODED_CC = ["E87.1", "D62", "N18.4", "I48.91"]


def make_bodies(n: int, seed: int, history: bool) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    pool = [c for c in dict.fromkeys(SECONDARIES + MORE_SECONDARIES) if c not in MCC_TO_ADD + UNCODED_CC]
    bodies = []
    for i in range(n):
        pdx = rnd.choice(PRINCIPALS)
        sdx = [c for c in rnd.sample(pool, 15) if c != pdx][:14]
        uncoded = [rnd.choice(MCC_TO_ADD), rnd.choice(UNCODED_CC)]
        evidence = [{"id": f"x{j}", "codes": [{"system": "icd10cm", "code": c}], "poa": "Y",
                     "admission_reason": j == 1} for j, c in enumerate([pdx, *sdx])]
        evidence += [{"id": f"u{j}", "codes": [{"system": "icd10cm", "code": c}], "poa": "Y"}
                     for j, c in enumerate(uncoded)]
        evidence += [{"id": f"p{j}", "kind": "procedure", "codes": [{"system": "icd10pcs", "code": c}]}
                     for j, c in enumerate(PROCEDURES[:3])]
        month = 1 + i % 9
        bodies.append({
            "encounter": {"setting": "inpatient", "age": rnd.randint(40, 95), "sex": rnd.choice(["male", "female"]),
                          "admission_date": f"2026-0{month}-08", "discharge_date": f"2026-0{month}-15",
                          "payer": "medicare", "discharge_status": 1, "evidence": evidence},
            "codes": {"principal": {"code": pdx, "poa": "Y", "evidence": ["x0"]},
                      "secondary": [{"code": c, "poa": "Y", "evidence": [f"x{j + 1}"]} for j, c in enumerate(sdx)],
                      "procedures": [{"code": c, "evidence": [f"p{j}"] if j < 3 else []}
                                     for j, c in enumerate(PROCEDURES)]},
            "include_history": history,
        })
    return bodies


def groupings_of(graph: Graph, body: EvaluateIn) -> list[dict[str, Any]]:
    """The msdrg inputs an evaluation of ``body`` groups: its base claim and each alternative it tries."""
    case = build_case(graph, body)
    docs = Documented()
    for x in case.evidence.values():
        for c in x.codes:
            docs.add(f"{c.system}:{c.code}", x.id, poa=x.poa)
    base = base_claim(case)
    choice = grouper_for(case.encounter.discharge_date)
    return [c.engine_input(choice.engine) for c in [base, *(t.claim for t in _alternatives(case, base, docs))]]


def repeat_batch(graph: Graph, models: list[EvaluateIn], rounds: int) -> list[float]:
    """CPU ms per evaluation of the batch loop run ``rounds`` more times (two trees' runs started together compare
    code on a busy machine: both see the same load)."""
    settings = get_settings()
    out = []
    for _ in range(rounds):
        overall: dict[str, int] = {}  # read as in batch_row's loop
        c0 = time.process_time()
        for m in models:
            answer = evaluate(graph, settings, m).overall
            overall[answer] = overall.get(answer, 0) + 1
        out.append(round((time.process_time() - c0) * 1000 / len(models), 3))
    return out


def batch_row(graph: Graph, bodies: list[dict[str, Any]], batch: int, rounds: int = 0) -> dict[str, Any]:
    settings = get_settings()
    models = [EvaluateIn.model_validate(bodies[i % len(bodies)]) for i in range(batch)]
    for m in models[:20]:
        evaluate(graph, settings, m)  # warm-up: tables, engine, editor
    # Each answer is read as it comes (its overall verdict, as an engine acting on it would) and not held: the raw
    # msdrg loop below holds none of its results either. Holding all 1,000 answers (~140 tracked objects each)
    # adds full garbage collections over them to the timed loop (~0.1 ms per evaluation; RESULTS.md, fifth pass).
    overall: dict[str, int] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    for m in models:
        answer = evaluate(graph, settings, m).overall
        overall[answer] = overall.get(answer, 0) + 1
    service_s, service_cpu = time.perf_counter() - t0, time.process_time() - c0
    raw = [groupings_of(graph, m) for m in models]
    flat = [c for claims in raw for c in claims]
    with msdrg.MsdrgGrouper() as g:
        for c in flat[:50]:
            g.group(c)
        t0, c0 = time.perf_counter(), time.process_time()
        for c in flat:
            g.group(c)
        raw_s, raw_cpu = time.perf_counter() - t0, time.process_time() - c0
    repeated = repeat_batch(graph, models, rounds) if rounds else []
    per_eval = len(flat) / batch
    service_groupings = len(flat) / service_s
    raw_rate = len(flat) / raw_s
    return {"evaluations": batch, "seconds": round(service_s, 3), "evaluations_per_s": round(batch / service_s, 1),
            "groupings_per_evaluation": round(per_eval, 2), "service_groupings_per_s": round(service_groupings, 1),
            "raw_msdrg_groupings_per_s": round(raw_rate, 1), "ratio_groupings": round(service_groupings / raw_rate, 4),
            "raw_msdrg_base_claims_per_s": round(raw_rate, 1),
            "ratio_evaluations_vs_raw_claims": round((batch / service_s) / raw_rate, 4), "overall": overall,
            # The same ratio in CPU time of this process (the machine is shared: wall time moves with its load).
            "cpu_ms_per_evaluation": round(service_cpu * 1000 / batch, 3),
            "raw_msdrg_cpu_ms_per_grouping": round(raw_cpu * 1000 / len(flat), 4),
            "repeated_cpu_ms_per_evaluation": repeated,
            "ratio_groupings_cpu": round((len(flat) / service_cpu) / (len(flat) / raw_cpu), 4)}


def http_row(bodies: list[dict[str, Any]], work: Path, connections: int, duration: float, workers: int | None,
             profile: bool) -> dict[str, Any]:
    key, line = new_key(Role.engine)
    port = free_port()
    with served("codegraph", real_command(port, workers), port, work, workers=workers or 1, ready_path="/readyz",
                env={"CODEGRAPH_API_KEYS": line}) as server:
        reqs = Requests([json.dumps(b, separators=(",", ":")) for b in bodies], method="POST",
                        path="/v1/assignments/evaluate", headers={"X-API-Key": key, "Content-Type": "application/json"})
        script = write_script(work, "evaluate", reqs)
        for _ in range(3):  # warm-up: every worker builds its release tables on first use
            warm = run_wrk(server.base_url, script, connections, 5)
            if warm.error_count == 0 and warm.requests:
                break
        before = TreeCpu(server.pid)
        recorder = PySpyRecorder(server.pid, duration, work / "profile-evaluate.txt") if profile else None
        if recorder:
            time.sleep(1.0)
        result = run_wrk(server.base_url, script, connections, duration)
        cpu = TreeCpu(server.pid).since(before)
        out = {**result.as_dict(), "server_cpu_ms_per_req": round(cpu * 1000 / max(1, result.requests), 3),
               "workers": server.workers, "server_log": str(server.log)}
        if recorder:
            prof = recorder.finish()
            if prof is not None:
                print(prof.render())
                out["profile"] = prof.as_dict()
        if result.error_count:
            raise RuntimeError(f"wrk saw errors {result.errors} (server log {server.log})")
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claims", type=int, default=200)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--history", action="store_true")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--batch-only", action="store_true", help="the in-process batch row alone (no HTTP)")
    ap.add_argument("--rounds", type=int, default=0,
                    help="then the batch loop this many more times, CPU per evaluation of each (side-by-side runs)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    settings = get_settings()
    work = Path(tempfile.mkdtemp(prefix="evaluate-speed-"))
    with open_driver(settings) as driver:
        ensure_data(driver, settings, Need(icd10cm=True, msdrg=True))
        records, _, _ = driver.execute_query("MATCH (r:Release {id: 'coding_rules@FY2026', status: 'visible'}) "
                                             "RETURN count(r) AS n", database_=settings.neo4j_database)
        if not records[0]["n"]:
            load_source(driver, settings, "coding_rules", [RULES_FILE], "FY2026")
        bodies = make_bodies(args.claims, 11, args.history)
        sample = EvaluateIn.model_validate(bodies[0])
        store = ReferenceStore(driver, settings.neo4j_database, poll_s=settings.release_poll_s)
        store.start()  # the catalog polled in the background, as in a service process
        graph = Graph(driver, settings.neo4j_database, store)
        first = evaluate(graph, settings, sample)
        print(f"sample: overall {first.overall}, DRG {first.drg.drg if first.drg else None}, findings "
              f"{sum(len(getattr(first, f).findings) for f in ('valid', 'compliant', 'supported', 'optimal'))}")
        load0 = load_average()
        http: dict[str, Any] | None = None
        if not args.batch_only:
            http = http_row(bodies, work, args.connections, args.duration, args.workers, args.profile)
            lat = http["latency_ms"]
            print(f"HTTP c={args.connections}: {http['rps']:,.1f} req/s, p50 {lat['p50']:.1f} ms, p99 "
                  f"{lat['p99']:.1f} ms, server CPU {http['server_cpu_ms_per_req']:.2f} ms/req ({http['workers']} "
                  f"workers)")
        batch = batch_row(graph, bodies, args.batch, args.rounds)
        print(f"batch: {batch['evaluations']} evaluations in {batch['seconds']} s = {batch['evaluations_per_s']}/s "
              f"({batch['groupings_per_evaluation']} groupings each = {batch['service_groupings_per_s']} groupings/s); "
              f"raw msdrg {batch['raw_msdrg_groupings_per_s']} groupings/s on the same claims; ratio "
              f"{batch['ratio_groupings']} (evaluations/s vs raw claims/s {batch['ratio_evaluations_vs_raw_claims']}); "
              f"in CPU: {batch['cpu_ms_per_evaluation']} ms per evaluation, raw msdrg "
              f"{batch['raw_msdrg_cpu_ms_per_grouping']} ms per grouping, ratio {batch['ratio_groupings_cpu']}")
        if batch["repeated_cpu_ms_per_evaluation"]:
            print(f"batch loop repeated: CPU ms per evaluation {batch['repeated_cpu_ms_per_evaluation']}")
        report = {"date": date.today().isoformat(), "http": http, "batch": batch, "load_average": [load0,
                  load_average()], "args": vars(args) | {"json": str(args.json) if args.json else None}}
        p99 = http["latency_ms"]["p99"] if http else None
        print(json.dumps({"p99_ms": p99, "p99_goal_met": p99 is not None and p99 <= 50,
                          "batch_ratio": batch["ratio_groupings"], "batch_goal_met": batch["ratio_groupings"] >= 0.5,
                          "batch_ratio_cpu": batch["ratio_groupings_cpu"]}))
        if args.json:
            args.json.write_text(json.dumps(report, indent=1, default=str))
        store.close()


if __name__ == "__main__":
    main()
