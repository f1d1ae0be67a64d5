"""NCCI at release scale: load a synthetic quarter (≈1.5M PTP rows + MUEs) and time claim edits against it.

Usage: python -m bench.ncci_claim_edits [--rows 1500000] [--mue-codes 15000] [--calls 200] [--batch-size N]
Uses NEO4J_URI if set, else the local server from settings (the dev server). The synthetic tables are loaded as
release ``2026Q1-bench`` (in force for 2026Q1 dates, above a real 2026Q1 while it exists) and discarded at the
end with ``RunLedger.discard_run``, whatever happens. Prints, measured in the same run (machines here are noisy):
- the raw ``UNWIND … CREATE`` ceiling (bench.load_ceiling.raw_ceiling) on the same PTP rows and batch size;
- the PTP load end to end (parse + write) in rows/s and as a ratio of that ceiling;
- p50/p99 latency of POST /v1/edits/claim for a 10-line claim with 15 diagnoses, through the app (TestClient).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bench.load_ceiling import raw_ceiling
from bench.loads import ceiling_ptp_rows
from codegraph.db import open_driver
from codegraph.settings import get_settings
from graph_service.app import create_app
from graph_service.security import Role, new_key
from loaders.machinery.runs import RunLedger
from loaders.ncci.common import NcciSetting
from loaders.ncci.ptp import read_ptp
from loaders.ncci.synthetic import write_synthetic_mue, write_synthetic_ptp
from loaders.registry import load_source
from ontology.schema import apply_schema

VERSION = "2026Q1-bench"
DOS = date(2026, 2, 10)
CEILING_ROWS = 200_000
# Fifteen FY2026 ICD-10-CM codes of a plausible encounter; E11.9 with E10.9 is an Excludes1 conflict.
DIAGNOSES = ("I50.9", "E11.9", "E10.9", "I10", "N18.30", "J44.9", "E78.5", "Z79.4", "I25.10", "K21.9",
             "M17.11", "E66.9", "G47.33", "F32.A", "Z87.891")


def ceiling_rows(path: Path, n: int) -> list[dict[str, Any]]:
    """The first ``n`` PTP rows as flat property maps (what the raw CREATE stores)."""
    return ceiling_ptp_rows(path, n)


def claim_lines(path: Path, rng: random.Random) -> list[dict[str, Any]]:
    """A column-1 code active on DOS with nine of its column-2 partners: a claim that fires many edits."""
    partners: dict[str, list[str]] = defaultdict(list)
    for edit in islice(read_ptp(path), 300_000):
        if edit.effective <= DOS and (edit.deletion is None or edit.deletion >= DOS):
            partners[edit.column1].append(edit.column2)
    column1, column2s = next((c, p) for c, p in partners.items() if len(p) >= 9)
    codes = [column1, *rng.sample(column2s, 9)]
    return [{"line_id": str(i + 1), "code": code, "modifiers": ["59"] if i % 3 == 2 else [],
             "units": rng.choice((1, 1, 2, 3)), "date_of_service": DOS.isoformat(), "setting": "practitioner"}
            for i, code in enumerate(codes)]


def latency(client: TestClient, headers: dict[str, str], body: dict[str, Any], calls: int) -> tuple[float, float]:
    for _ in range(10):  # warm-up: driver pool, query plans, the MCE's tables
        assert client.post("/v1/edits/claim", json=body, headers=headers).status_code == 200
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        r = client.post("/v1/edits/claim", json=body, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.text
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.99 * len(times)) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_500_000)
    ap.add_argument("--mue-codes", type=int, default=15_000)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=None)
    args = ap.parse_args()
    settings = get_settings()
    batch = args.batch_size or settings.batch_size
    rng = random.Random(7)
    runs: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ncci-bench-") as tmp, open_driver(settings) as driver:
        db = settings.neo4j_database
        apply_schema(driver, db)
        ptp, mue = Path(tmp) / "ccipra-synthetic.txt", Path(tmp) / "MCR_MUE_PractitionerServices_synthetic.csv"
        t0 = time.perf_counter()
        write_synthetic_ptp(ptp, args.rows, seed=1)
        write_synthetic_mue(mue, NcciSetting.PRACTITIONER, args.mue_codes, seed=1)
        print(f"synthetic tables: {args.rows:,} PTP rows, {args.mue_codes:,} MUE codes "
              f"({time.perf_counter() - t0:.0f} s); Neo4j {driver.get_server_info().agent}; batch {batch}", flush=True)
        try:
            # The ceiling is measured before and after the load: on a shared machine it drifts.
            sample = ceiling_rows(ptp, min(CEILING_ROWS, args.rows))
            before = raw_ceiling(driver, db, sample, batch)
            print(f"raw UNWIND CREATE ceiling: {before:>10,.0f} rows/s (before the load)", flush=True)
            report = load_source(driver, settings, "ncci_ptp", [ptp], VERSION, batch_size=batch)
            runs.append(report.run_id)
            after = raw_ceiling(driver, db, sample, batch)
            ceiling = (before + after) / 2
            rate = report.counts["edits"] / report.seconds
            print(f"raw UNWIND CREATE ceiling: {after:>10,.0f} rows/s (after the load)", flush=True)
            print(f"ncci_ptp load:             {rate:>10,.0f} rows/s end to end ({report.counts['edits']:,} edges, "
                  f"{report.counts['codes']:,} codes, {report.seconds:.0f} s; writing alone "
                  f"{report.stats.rows_per_second:,.0f} rows/s) = {rate / ceiling:.2f} x the mean ceiling", flush=True)
            report = load_source(driver, settings, "ncci_mue", [mue], VERSION, batch_size=batch)
            runs.append(report.run_id)
            print(f"ncci_mue load:             {report.counts['mues'] / report.seconds:>10,.0f} rows/s "
                  f"({report.counts['mues']:,} MUEs, {report.seconds:.1f} s)", flush=True)

            key, line = new_key(Role.engine)
            app = create_app(settings.model_copy(update={"api_keys": line}))
            body = {"lines": claim_lines(ptp, rng), "diagnoses": [
                {"code": code, "sequence": i + 1} for i, code in enumerate(DIAGNOSES)],
                "patient": {"age": 67, "sex": "female"}}
            with TestClient(app) as client:
                headers = {"X-API-Key": key}
                sample = client.post("/v1/edits/claim", json=body, headers=headers).json()
                print(f"claim: 10 lines, 15 diagnoses -> {len(sample['ptp_conflicts'])} PTP conflicts, "
                      f"{len(sample['mue_violations'])} MUE violations, "
                      f"{len(sample['diagnoses']['validation'][0]['excludes1_conflicts'])} Excludes1 conflicts, "
                      f"{len(sample['diagnoses']['mce']['edits'])} MCE edits", flush=True)
                p50, p99 = latency(client, headers, body, args.calls)
                print(f"POST /v1/edits/claim ({args.calls} calls): p50 {p50:.1f} ms, p99 {p99:.1f} ms")
                lines_only = {"lines": body["lines"]}
                p50, p99 = latency(client, headers, lines_only, args.calls)
                print(f"  lines only, no diagnoses:      p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        finally:
            ledger = RunLedger(driver, db)
            for run_id in reversed(runs):
                t0 = time.perf_counter()
                removed = ledger.discard_run(run_id)
                ledger.finish(run_id, "discarded", removed, error="benchmark release removed")
                print(f"discarded {run_id}: {removed} ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
