"""What the release lifecycle (issue 10) costs and saves, each figure against a baseline of the same run.

1. schema before load: N codes of the FY2025 ICD-10-CM list loaded on a database without the ontology's schema,
   as `codegraph load` did before (no schema: every MERGE scans its label) against `load_source`, which applies
   the schema first;
2. the very same files again: the FY2026 tabular load against loading those files again (a no-op by sha256);
3. the sanity gates: the diff-and-impact step of FY2026 over FY2025 against the write step of the same load;
4. Ctrl-C: seconds from SIGINT to the exit of a real `codegraph load` of the FY2026 tabular, mid-write.

Usage: CODEGRAPH_STATE_DIR=... CODEGRAPH_BOLT_PORT=... python -m bench.release_lifecycle [--codes 5000]
The Neo4j it talks to is wiped: point it at a server of its own.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from neo4j import Driver

from codegraph.db import empty_graph, open_driver
from codegraph.settings import Settings, get_settings
from loaders.bundled import package_file
from loaders.icd10cm.code_lists import read_code_list
from loaders.machinery.pipeline import run_load
from loaders.machinery.runs import ReleaseSpec
from loaders.registry import all_loaders, load_source
from ontology.schema import apply_schema

REPO = Path(__file__).resolve().parents[1]
FY2025 = package_file("drg", "data", "cms", "icd_10_cm.csv")
FY2026 = package_file("simple_icd_10_cm", "data", "icd10c-tabular-April-1-2026.xml")


def drop_schema(driver: Driver, database: str) -> None:
    for show, drop in (("SHOW CONSTRAINTS YIELD name", "DROP CONSTRAINT"),
                       ("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP'", "DROP INDEX")):
        records, _, _ = driver.execute_query(show, database_=database)
        for r in records:
            driver.execute_query(f"{drop} `{r['name']}`", database_=database)


def schema_before_load(driver: Driver, settings: Settings, n: int, work: Path) -> None:
    db = settings.neo4j_database
    path = work / "codes.txt"
    path.write_text("".join(f"{c.code.replace('.', ''):<7} {c.title}\n" for c in list(read_code_list(FY2025))[:n]))
    empty_graph(driver, db)
    drop_schema(driver, db)
    t0 = time.perf_counter()
    run_load(driver, db, all_loaders()["icd10cm"](), [path], ReleaseSpec.parse("icd10cm", "FY2025"),
             batch_size=settings.batch_size)  # the old path: no schema check
    without = time.perf_counter() - t0
    empty_graph(driver, db)
    drop_schema(driver, db)
    t0 = time.perf_counter()
    load_source(driver, settings, "icd10cm", [path], "FY2025")  # applies the schema first
    with_schema = time.perf_counter() - t0
    print(f"schema before load, {n:,} codes: without the schema {without:.1f}s; applied first {with_schema:.1f}s "
          f"(schema included); ratio {without / with_schema:.1f}x")


def same_files_again(driver: Driver, settings: Settings) -> None:
    empty_graph(driver, settings.neo4j_database)
    apply_schema(driver, settings.neo4j_database)
    load_source(driver, settings, "icd10cm", [FY2025], "FY2025")
    first = load_source(driver, settings, "icd10cm", [FY2026], "FY2026")
    t0 = time.perf_counter()
    again = load_source(driver, settings, "icd10cm", [FY2026], "FY2026")
    noop = time.perf_counter() - t0
    assert again.status == "unchanged"
    print(f"FY2026 tabular again: first load {first.seconds:.1f}s, the same files again {noop:.2f}s "
          f"({again.status}); ratio {first.seconds / noop:,.0f}x")
    gates = first.report.get("gates", {})
    print(f"gates on FY2025 -> FY2026: write {first.phases['write']:.1f}s, diff+impact+gates "
          f"{first.phases['after_staging']:.1f}s ({first.phases['after_staging'] / first.phases['write']:.2f} of the "
          f"write); verdict {gates.get('verdict')}, deleted share {gates.get('deleted_share')}, retitled share "
          f"{gates.get('retitled_share')}; diff {({k: first.report['diff'][k] for k in ('deleted', 'expanded')})}")


def ctrl_c(settings: Settings, driver: Driver) -> None:
    empty_graph(driver, settings.neo4j_database)
    env = {**os.environ, "NEO4J_URI": settings.bolt_uri, "NEO4J_USER": settings.neo4j_user,
           "NEO4J_PASSWORD": settings.resolved_password(), "NEO4J_DATABASE": settings.neo4j_database}
    proc = subprocess.Popen([sys.executable, "-m", "codegraph.cli", "load", "icd10cm", str(FY2026), "--release",
                             "FY2026"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while True:
        records, _, _ = driver.execute_query("MATCH ()-[m:IN_RELEASE]->() RETURN m LIMIT 1",
                                             database_=settings.neo4j_database)
        if records or proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    t0 = time.perf_counter()
    _, err = proc.communicate(timeout=120)
    print(f"Ctrl-C mid-load: exited {proc.returncode} after {time.perf_counter() - t0:.1f}s; "
          f"stderr {len(err.splitlines())} lines: {' '.join(err.split())[:160]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--codes", type=int, default=5000, help="codes loaded with and without the schema")
    args = ap.parse_args()
    settings = get_settings()
    with open_driver(settings) as driver, tempfile.TemporaryDirectory() as tmp:
        schema_before_load(driver, settings, args.codes, Path(tmp))
        same_files_again(driver, settings)
        ctrl_c(settings, driver)
        empty_graph(driver, settings.neo4j_database)


if __name__ == "__main__":
    main()
