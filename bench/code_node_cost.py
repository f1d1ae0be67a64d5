"""Server CPU of writing new code nodes (a first load's dominant statement), with and without a synchronous
full-text index, repeated on one scratch server so the figures are side by side.

Each repetition writes ``--rows`` new codes of a made-up system through ``code_rows_statement(fresh=True)`` (the
node with its labels, the range and full-text indexes, and the release membership), one session, the writer's
batch size, then waits for the full-text index. Repetitions before ``--switch-at`` run with the schema's index as
created by ``apply_schema``; from ``--switch-at`` on the index is recreated as ``--then`` (``sync``,
``eventual`` or ``none``). Server CPU is read from ``/proc`` of the Neo4j process.

Usage: python -m bench.code_node_cost [--rows 20000] [--repeat 4] [--switch-at 2] [--then sync|eventual|none]
"""

from __future__ import annotations

import argparse
import random
import string
import tempfile
import time
from pathlib import Path
from typing import Any

from neo4j import Driver

from bench.common import load_average
from bench.loads import scratch_neo4j
from bench.proc_cpu import cpu_seconds, pid_listening_on
from codegraph.db import open_driver
from codegraph.settings import get_settings
from loaders.machinery.code_release import CODE_FIELDS, _layout, code_rows_statement
from ontology.schema import AWAIT_TEXT_INDEX, FULLTEXT_INDEX, apply_schema
from ontology.vocabulary import L

BATCH = 5000
INDEX_DDL = {
    "sync": f"CREATE FULLTEXT INDEX {FULLTEXT_INDEX} FOR (n:Code) ON EACH [n.title, n.search_terms]",
    "eventual": (f"CREATE FULLTEXT INDEX {FULLTEXT_INDEX} FOR (n:Code) ON EACH [n.title, n.search_terms] "
                 "OPTIONS {indexConfig: {`fulltext.eventually_consistent`: true}}"),
}


def code_rows(n: int, rep: int, rnd: random.Random) -> list[dict[str, Any]]:
    def words(k: int) -> str:
        return " ".join("".join(rnd.choices(string.ascii_lowercase, k=rnd.randint(3, 10))) for _ in range(k))

    return [{"key": f"zz{rep}:{i:06d}", "code": f"Z{rep}{i:06d}", "title": words(6), "billable": True,
             "search_terms": words(12), "kind": "code", "chapter": "19", "inclusion_terms": words(5)}
            for i in range(n)]


def write_codes(driver: Driver, tag: str, rows: list[dict[str, Any]]) -> None:
    layout = _layout(CODE_FIELDS, rows)
    cypher = code_rows_statement(L.ICD10CMCode, layout, fresh=True)
    with driver.session() as session:
        session.run(f"CREATE (:{L.Release} {{id: $id}})", id=tag).consume()
        for i in range(0, len(rows), BATCH):
            batch = [layout.encode(r) for r in rows[i:i + BATCH]]
            session.execute_write(lambda tx, b=batch: tx.run(cypher, rows=b, release=tag, run=f"r-{tag}",
                                                             system="zz").consume())
        session.run(AWAIT_TEXT_INDEX).consume()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=4)
    ap.add_argument("--switch-at", type=int, default=2)
    ap.add_argument("--then", choices=("sync", "eventual", "none"), default="sync")
    args = ap.parse_args()
    rnd = random.Random(1)
    like = get_settings()
    with tempfile.TemporaryDirectory(prefix="code-node-cost-", dir=like.state_dir.parent) as tmp, \
            scratch_neo4j(Path(tmp), like) as settings, open_driver(settings) as driver:
        apply_schema(driver, settings.neo4j_database)
        pid = pid_listening_on(settings.local_bolt_port)
        assert pid is not None
        print(f"{args.rows:,} code rows per repetition; load average {load_average()}", flush=True)
        for rep in range(args.repeat):
            mode = "schema as applied"
            if rep >= args.switch_at:
                mode = args.then
                if rep == args.switch_at:
                    driver.execute_query(f"DROP INDEX {FULLTEXT_INDEX}")
                    if args.then in INDEX_DDL:
                        driver.execute_query(INDEX_DDL[args.then])
                        driver.execute_query("CALL db.awaitIndexes(300)")
            rows = code_rows(args.rows, rep, rnd)
            cpu0, t0 = cpu_seconds(pid), time.perf_counter()
            write_codes(driver, f"rep{rep}", rows)
            print(f"repetition {rep + 1} ({mode}): server CPU {cpu_seconds(pid) - cpu0:6.2f} s, "
                  f"wall {time.perf_counter() - t0:6.2f} s", flush=True)
        print(f"load average {load_average()}")


if __name__ == "__main__":
    main()
