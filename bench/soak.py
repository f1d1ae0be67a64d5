"""A bounded soak of the real `codegraph serve`: N concurrent clients for S seconds across lookup, validation, claim
edits, derivation, DRG and audit endpoints, with a Neo4j restart in the middle.

Pass: no 5xx except the 503s (with Retry-After) of the restart window, no request without an answer within
``--hang-s``, and the API processes' RSS reported before and after (flat: growth under ``--max-rss-growth``).

The clients are asyncio + httpx rather than wrk: the soak checks every answer's status, header and latency per
endpoint and the restart window, which wrk's summary does not give; it is not a speed figure.

    .venv/bin/python -m bench.soak --clients 64 --seconds 60 --results bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.served import ROOT, free_port, real_command, served
from codegraph.db import empty_graph, open_driver
from codegraph.runtime.local_server import LocalNeo4j
from codegraph.settings import Settings
from graph_service.security import Role, new_key

FIXTURES = ROOT / "tests" / "fixtures"
DOS = "2026-02-10"
# (name, method, path, body): one of each kind the coding engine and the auditors send.
REQUESTS: list[tuple[str, str, str, Any]] = [
    ("lookup", "GET", "/v1/codes/icd10cm/A00.0", None),
    ("children", "GET", "/v1/codes/icd10cm/A00/children", None),
    ("search", "GET", "/v1/search?q=cholera&system=icd10cm", None),
    ("validate", "POST", "/v1/validate/codes", {"codes": [{"code": "A00.0"}, {"code": "A04.71"}],
                                               "date_of_service": DOS}),
    ("claim_edits", "POST", "/v1/edits/claim", {"lines": [
        {"line_id": "1", "code": "27447", "modifiers": [], "units": 1, "date_of_service": DOS,
         "setting": "practitioner"},
        {"line_id": "2", "code": "20610", "modifiers": [], "units": 1, "date_of_service": DOS,
         "setting": "practitioner"}]}),
    ("derive", "POST", "/v1/derive/icd10cm", {"concepts": ["85232009"], "other_concepts": [], "date": "2025-11-03",
                                              "patient": {"age": {"value": 70, "unit": "years"}, "sex": "female"}}),
    ("drg_group", "POST", "/v1/drg/group", {
        "principal_dx": "I50.23", "principal_poa": "Y", "secondary_dx": [{"code": "E11.9", "poa": "Y"}],
        "procedures": [], "age": 72, "sex": "M", "discharge_status": 1, "discharge_date": "2026-01-15"}),
    ("audit_drg_shifts", "GET", "/v1/audit/drg-shifts?min_delta=0", None),
    ("audit_trace", "GET", "/v1/encounters/enc-hf-0001/trace", None),  # no encounter loaded: a graph round trip
    ("cypher", "POST", "/v1/cypher", {"query": "MATCH (c:ICD10CMCode) RETURN count(c) AS n"}),
]


@dataclass
class Outcome:
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    in_window_503: int = 0
    bad: list[str] = field(default_factory=list)  # 5xx outside the window, 503 without Retry-After, 500s
    hung: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    requests: int = 0


def api_rss_kib(pid: int) -> int:
    """RSS of the uvicorn master and its workers (the whole process group)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ProcessLookupError, ValueError):
            continue
    return total


def load_data(settings: Settings) -> None:
    """Small real releases: enough for every endpoint of the mix to find something."""
    from loaders.bundled import bundled_datasets
    from loaders.registry import load_source

    with open_driver(settings) as driver:
        empty_graph(driver, settings.neo4j_database)
        from ontology.schema import apply_schema

        apply_schema(driver, settings.neo4j_database)
        load_source(driver, settings, "icd10cm", [FIXTURES / "icd10cm" / "icd10cm-tabular-excerpt.xml"], "FY2026")
        for ds in bundled_datasets():
            if ds.source in ("cpt", "ncci_ptp", "ncci_mue", "snomed"):
                load_source(driver, settings, ds.source, list(ds.paths), ds.version)


async def _client(http: httpx.AsyncClient, index: int, stop_at: float, window: list[float], out: Outcome,
                  hang_s: float) -> None:
    i = index
    while time.monotonic() < stop_at:
        name, method, path, body = REQUESTS[i % len(REQUESTS)]
        i += 1
        t0 = time.monotonic()
        try:
            r = await http.request(method, path, json=body, timeout=hang_s)
        except httpx.TimeoutException:
            out.hung += 1
            continue
        except httpx.TransportError as exc:
            out.bad.append(f"{name}: connection error {exc!r}")
            continue
        t1 = time.monotonic()
        out.requests += 1
        out.latencies_ms.append((t1 - t0) * 1000)
        out.statuses[(name, r.status_code)] += 1
        in_window = bool(window) and window[0] <= t1 and (len(window) == 1 or t0 <= window[1])
        if r.status_code == 503:
            if not r.headers.get("retry-after"):
                out.bad.append(f"{name}: 503 without Retry-After")
            elif in_window:
                out.in_window_503 += 1
            else:
                out.bad.append(f"{name}: 503 outside the restart window: {r.text[:200]}")
        elif r.status_code >= 500:
            out.bad.append(f"{name}: {r.status_code} {r.text[:200]}")


async def _drive(base_url: str, key: str, clients: int, seconds: float, hang_s: float, restart: Any,
                 restart_after_s: float) -> tuple[Outcome, list[float]]:
    out, window = Outcome(), []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, headers={"X-API-Key": key}, limits=limits) as http:
        stop_at = time.monotonic() + seconds

        async def restarter() -> None:
            await asyncio.sleep(restart_after_s)
            window.append(time.monotonic())
            await asyncio.to_thread(restart)
            # The window closes once the API has seen the graph again (its driver reconnects on demand).
            while (await http.get("/readyz", timeout=hang_s)).status_code != 200:
                await asyncio.sleep(0.2)
            window.append(time.monotonic())

        tasks = [asyncio.create_task(_client(http, i, stop_at, window, out, hang_s)) for i in range(clients)]
        if restart is not None:
            tasks.append(asyncio.create_task(restarter()))
        await asyncio.gather(*tasks)
    return out, window


def soak(settings: Settings, *, clients: int, seconds: float, workers: int, hang_s: float,
         restart: bool = True) -> dict[str, Any]:
    server = LocalNeo4j(settings)
    server.start()
    load_data(settings)
    key, line = new_key(Role.maintainer)
    port = free_port()
    env = {"CODEGRAPH_STATE_DIR": str(settings.state_dir), "CODEGRAPH_BOLT_PORT": str(settings.local_bolt_port),
           "CODEGRAPH_NEO4J_HEAP": settings.local_heap, "CODEGRAPH_NEO4J_PAGECACHE": settings.local_pagecache,
           "CODEGRAPH_API_KEYS": line,
           # The soak's own server, named over whatever NEO4J_* the shell (or CI) exports: ``served`` merges this
           # env over os.environ, and os.environ is left alone (the soak also runs inside the test session).
           "NEO4J_URI": settings.bolt_uri, "NEO4J_USER": "neo4j", "NEO4J_DATABASE": settings.neo4j_database,
           "NEO4J_PASSWORD": settings.password_file.read_text().strip()}
    lock = threading.Lock()

    def restart_neo4j() -> None:
        with lock:
            server.stop()
            server.start()

    with tempfile.TemporaryDirectory(prefix="soak-") as scratch, served(
        "soak", real_command(port, workers), port, Path(scratch), workers=workers, ready_path="/readyz", env=env,
        timeout_s=300,
    ) as api:
        # Warm-up: every endpoint once per worker, so the first RSS is the steady state's, not start-up's.
        asyncio.run(_drive(api.base_url, key, clients, min(5.0, seconds / 4), hang_s, None, 0))
        rss_before = api_rss_kib(api.pid)
        t0 = time.monotonic()
        out, window = asyncio.run(_drive(api.base_url, key, clients, seconds, hang_s,
                                         restart_neo4j if restart else None, seconds / 2))
        wall = time.monotonic() - t0
        rss_after = api_rss_kib(api.pid)
        server_errors = logged_errors(api.log) if out.bad else []
    lat = sorted(out.latencies_ms) or [0.0]
    by_endpoint: dict[str, dict[str, int]] = {}
    for (name, status), n in sorted(out.statuses.items()):
        by_endpoint.setdefault(name, {})[str(status)] = n
    return {
        "clients": clients, "seconds": seconds, "workers": workers, "wall_s": round(wall, 1),
        "requests": out.requests, "requests_per_s": round(out.requests / wall, 1),
        "restart_window_s": round(window[1] - window[0], 1) if len(window) == 2 else None,
        "in_window_503": out.in_window_503, "hung": out.hung, "violations": out.bad[:20],
        "violation_count": len(out.bad),
        "p50_ms": round(lat[len(lat) // 2], 1), "p99_ms": round(lat[int(len(lat) * 0.99)], 1),
        "max_ms": round(lat[-1], 1), "rss_before_mib": round(rss_before / 1024, 1),
        "rss_after_mib": round(rss_after / 1024, 1), "by_endpoint": by_endpoint, "server_errors": server_errors,
    }


def logged_errors(log: Path, limit: int = 3) -> list[str]:
    """The server's own account of what went wrong (its tracebacks), kept before the scratch dir goes: a
    violation then says why, not only what the client saw."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback")][:limit]
    return ["\n".join(lines[max(0, i - 1):i + 60])[-4000:] for i in starts]


def passed(result: dict[str, Any], max_rss_growth: float) -> bool:
    grew = result["rss_after_mib"] / max(result["rss_before_mib"], 1e-9)
    return result["violation_count"] == 0 and result["hung"] == 0 and grew <= max_rss_growth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--hang-s", type=float, default=30.0, help="a request unanswered this long counts as hung")
    ap.add_argument("--max-rss-growth", type=float, default=1.25, help="RSS after / before allowed")
    ap.add_argument("--state-dir", type=Path, default=ROOT / "state" / "soak")
    ap.add_argument("--bolt-port", type=int, default=7740)
    ap.add_argument("--heap", default="768m")
    ap.add_argument("--results", type=Path, help="append a section to this RESULTS.md")
    args = ap.parse_args()
    settings = Settings(NEO4J_URI=None, NEO4J_PASSWORD=None, NEO4J_USER="neo4j", NEO4J_DATABASE="neo4j",
                        CODEGRAPH_STATE_DIR=args.state_dir, CODEGRAPH_BOLT_PORT=args.bolt_port,
                        CODEGRAPH_NEO4J_HEAP=args.heap, CODEGRAPH_NEO4J_PAGECACHE="256m")
    try:
        result = soak(settings, clients=args.clients, seconds=args.seconds, workers=args.workers, hang_s=args.hang_s)
    finally:
        LocalNeo4j(settings).stop()
    ok = passed(result, args.max_rss_growth)
    print(json.dumps({**result, "passed": ok}, indent=2))
    if args.results:
        with args.results.open("a") as fh:
            fh.write(results_section(result, ok, " ".join(sys.argv[1:])))
    sys.exit(0 if ok else 1)


def results_section(r: dict[str, Any], ok: bool, argv: str) -> str:
    rows = "\n".join(f"| {name} | {', '.join(f'{s}: {n}' for s, n in statuses.items())} |"
                     for name, statuses in r["by_endpoint"].items())
    return f"""
## Soak: {r['clients']} clients for {r['seconds']:.0f} s with a Neo4j restart in the middle ({'pass' if ok else 'FAIL'})

`.venv/bin/python -m bench.soak {argv}` — real `codegraph serve` ({r['workers']} workers), its own local Neo4j
(stopped and started again at half time), small real releases (ICD-10-CM tabular excerpt, CPT/NCCI samples,
SNOMED CT fixture); clients are asyncio + httpx checking every answer.

- {r['requests']:,} requests ({r['requests_per_s']}/s); p50 {r['p50_ms']}, p99 {r['p99_ms']}, max {r['max_ms']} (ms)
- restart window {r['restart_window_s']} s: {r['in_window_503']} answers 503 with Retry-After inside it
- 5xx outside the window or 503 without Retry-After: {r['violation_count']}; hung (no answer in time): {r['hung']}
- API RSS (master + workers): {r['rss_before_mib']} MiB before, {r['rss_after_mib']} MiB after

| endpoint | statuses |
|---|---|
{rows}
"""


if __name__ == "__main__":
    main()
