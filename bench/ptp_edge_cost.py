"""What the server pays per NCCI PTP edge: the loader's statement against leaner variants, on the same rows.

The full write of a first or back-filled NCCI release is ~0.6x the raw CREATE ceiling (bench.loads); this says
which part of an edge the server's time goes to. The first ``--rows`` rows of a synthetic PTP table (seed 1, as
``bench.engine_data``) are written through ``loaders.ncci.load.CREATE_PTP`` and variants of it, one session, the
writer's batch size, rounds in rotation, each variant's edges deleted before the next; the code nodes the rows
name are created first (stamped ``bench-ptp-edge-cost``) and removed at the end. Edges carry the type
``BenchPtpEdge``, outside the ontology, so nothing served reads them.

Usage: python -m bench.ptp_edge_cost [--rows 150000] [--rounds 2]
Uses NEO4J_URI if set, else the local server from settings; server CPU is read from /proc when it is local.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from itertools import islice
from pathlib import Path

from bench.common import load_average
from bench.proc_cpu import cpu_seconds, pid_listening_on
from codegraph.db import open_driver
from codegraph.settings import get_settings
from loaders.machinery.writer import batched
from loaders.ncci.load import CREATE_PTP, PTP_LAYOUT, ptp_row
from loaders.ncci.ptp import read_ptp
from loaders.ncci.synthetic import write_synthetic_ptp
from ontology.vocabulary import R

EDGE = "BenchPtpEdge"
STAMP = "bench-ptp-edge-cost"
DELETE_EDGES = f"MATCH ()-[e:{EDGE}]->() CALL (e) {{ DELETE e }} IN TRANSACTIONS OF 20000 ROWS"

_AS_WRITTEN = CREATE_PTP.replace(f":{R.BUNDLES}", f":{EDGE}")
VARIANTS = {
    "as written": _AS_WRITTEN,
    "dates as text": _AS_WRITTEN.replace("date(row.effective)", "row.effective").replace(
        "date(row.deletion)", "row.deletion"),
    "no rationale": _AS_WRITTEN.replace("rationale: row.rationale,", ""),
    "bare edge": f"""{PTP_LAYOUT.unwind()}
WITH row.column1 AS column1, collect(row) AS edges
MATCH (a:Code {{key: column1}})
UNWIND edges AS row
MATCH (b:Code {{key: row.column2}})
CREATE (a)-[:{EDGE}]->(b)""",
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=150_000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    settings = get_settings()
    with tempfile.TemporaryDirectory(prefix="ptp-edge-cost-") as tmp:
        table = Path(tmp) / "ccipra-synthetic.txt"
        write_synthetic_ptp(table, args.rows, seed=1)
        rows = [PTP_LAYOUT.encode(ptp_row(edit)) for edit in islice(read_ptp(table), args.rows)]
    keys = sorted({r[0] for r in rows} | {r[1] for r in rows})
    local = "127.0.0.1" in settings.bolt_uri or "localhost" in settings.bolt_uri
    pid = pid_listening_on(int(settings.bolt_uri.rsplit(":", 1)[1])) if local else None
    print(f"{len(rows):,} PTP rows naming {len(keys):,} codes; batch {settings.batch_size:,}; "
          f"load average {load_average()}", flush=True)
    with open_driver(settings) as driver:
        driver.execute_query("UNWIND $keys AS k MERGE (c:Code {key: k}) ON CREATE SET c.load_run = $stamp",
                             keys=keys, stamp=STAMP, database_=settings.neo4j_database)
        try:
            for round_ in range(1, args.rounds + 1):
                for name, cypher in VARIANTS.items():
                    cpu0, t0 = cpu_seconds(pid) if pid else None, time.perf_counter()
                    with driver.session(database=settings.neo4j_database) as session:
                        for batch in batched(rows, settings.batch_size):
                            session.execute_write(lambda tx, b=batch, q=cypher: tx.run(
                                q, rows=b, release=STAMP, run=STAMP).consume())
                    wall = time.perf_counter() - t0
                    cpu = f"{cpu_seconds(pid) - cpu0:6.2f} s" if pid and cpu0 is not None else "   n/a"
                    print(f"round {round_} {name:14s} wall {wall:6.2f} s  server CPU {cpu}  "
                          f"{len(rows) / wall:9,.0f} rows/s", flush=True)
                    with driver.session(database=settings.neo4j_database) as session:
                        session.run(DELETE_EDGES).consume()
        finally:
            with driver.session(database=settings.neo4j_database) as session:
                session.run(DELETE_EDGES).consume()
                session.run("MATCH (c:Code {load_run: $stamp}) CALL (c) { DETACH DELETE c } IN TRANSACTIONS",
                            stamp=STAMP).consume()
    print(f"load average {load_average()}")


if __name__ == "__main__":
    main()
