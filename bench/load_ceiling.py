"""The load ceiling: raw ``UNWIND $rows CREATE (n:Bench) SET n = row`` throughput at a few batch sizes,
and the shared writer's MERGE (the path every loader takes, with provenance) on the same rows.

Usage: python -m bench.load_ceiling [--rows 200000] [--batch-sizes 1000,5000,20000]
Uses NEO4J_URI if set, else the local server from settings (start it with `codegraph neo4j start`).
Prints rows/s and the writer/ceiling ratio measured in the same run (machines here are noisy).
"""

from __future__ import annotations

import argparse
import time

from codegraph.db import open_driver
from codegraph.settings import get_settings
from loaders.machinery.runs import RunLedger, new_run_id
from loaders.machinery.writer import GraphWriter, batched
from ontology.schema import apply_schema
from ontology.vocabulary import L, R, cypher_labels

BENCH_LABEL = "Bench"  # deliberately outside the ontology; removed at the end

WRITER_MERGE = f"""
UNWIND $rows AS row
MERGE (c{cypher_labels(L.ICD10CMCode)} {{key: row.key}})
  ON CREATE SET c.code = row.code, c.system = 'bench', c.title = row.title, c.load_run = $run
WITH c, row
MATCH (rel:{L.Release} {{id: $release}})
MERGE (c)-[m:{R.IN_RELEASE}]->(rel)
  ON CREATE SET m.release = $release, m.load_run = $run, m.title = row.title, m.billable = row.billable
"""


def make_rows(n: int) -> list[dict]:
    return [
        {"key": f"bench|B{i:07d}", "code": f"B{i:07d}", "title": f"Benchmark code number {i} of the ceiling run",
         "billable": i % 4 != 0}
        for i in range(n)
    ]


def raw_ceiling(driver, database: str, rows: list[dict], batch: int) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    with driver.session(database=database) as session:
        for chunk in batched(rows, batch):
            session.execute_write(
                lambda tx, c=chunk: tx.run(
                    f"UNWIND $rows AS row CREATE (n:{BENCH_LABEL}) SET n = row", rows=c
                ).consume()
            )
    elapsed = time.perf_counter() - t0
    with driver.session(database=database) as session:
        session.run(f"MATCH (n:{BENCH_LABEL}) CALL (n) {{ DELETE n }} IN TRANSACTIONS OF 20000 ROWS").consume()
    return len(rows) / elapsed


def writer_merge(driver, database: str, rows: list[dict], batch: int) -> float:  # type: ignore[no-untyped-def]
    run_id = new_run_id("bench")
    release = f"bench@{run_id}"
    driver.execute_query(
        f"CREATE (:{L.Release} {{id: $id, system: 'bench', version: $id, status: 'staging', load_run: $run}})",
        id=release, run=run_id, database_=database,
    )
    writer = GraphWriter(driver, database, run_id=run_id, release_id=release, batch_size=batch)
    t0 = time.perf_counter()
    writer.write("bench", WRITER_MERGE, rows)
    elapsed = time.perf_counter() - t0
    RunLedger(driver, database).discard_run(run_id)
    return len(rows) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--batch-sizes", default="1000,5000,20000")
    args = ap.parse_args()
    settings = get_settings()
    rows = make_rows(args.rows)
    with open_driver(settings) as driver:
        apply_schema(driver, settings.neo4j_database)
        print(f"{args.rows:,} rows; Neo4j {driver.get_server_info().agent}")
        print(f"{'batch':>7} {'raw CREATE rows/s':>18} {'writer MERGE rows/s':>20} {'ratio':>6}")
        for batch in (int(b) for b in args.batch_sizes.split(",")):
            raw = raw_ceiling(driver, settings.neo4j_database, rows, batch)
            merge = writer_merge(driver, settings.neo4j_database, rows, batch)
            print(f"{batch:>7} {raw:>18,.0f} {merge:>20,.0f} {merge / raw:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
