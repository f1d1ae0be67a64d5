"""Which statements a run executed, under which plans, and which of those plans scan: Neo4j's query collector.

Community Neo4j has no query log (``query.log`` is an Enterprise feature: the file is created and stays empty),
but its query collector (``db.stats.collect('QUERIES')``) is in Community. It keeps each statement's plans with
their estimated rows and each invocation's compile and execution time, which is how session 14 caught the demo's
slow coding load: one of the statement's two plans scanned an index per cited evidence id (bench/RESULTS.md).

    python -m bench.query_plans collect [--seconds 600]   # before the run (on the server the settings name)
    python -m bench.query_plans report [--json FILE]      # after it: statements by execution time, scans flagged
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codegraph.db import open_driver
from codegraph.settings import get_settings

# Operators that read a whole label or index; fine once per statement, a defect under an Apply (once per row).
SCANS = ("NodeIndexScan", "NodeByLabelScan", "AllNodesScan", "DirectedRelationshipTypeScan",
         "UndirectedRelationshipTypeScan", "DirectedRelationshipIndexScan", "UndirectedRelationshipIndexScan")


def operators(plan: dict[str, Any], under_apply: bool = False) -> Iterator[tuple[str, bool]]:
    """Each operator of a collected plan, and whether it runs on the right-hand side of an Apply (once per row)."""
    op = plan.get("operator", "")
    yield op, under_apply
    if "lhs" in plan:
        yield from operators(plan["lhs"], under_apply)
    if "rhs" in plan:
        yield from operators(plan["rhs"], under_apply or "Apply" in op or op.startswith("Subquery"))


def summarise(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per collected (statement, plan): invocations, seconds, and the scans run once per row."""
    out = []
    for entry in entries:
        summary = entry["invocationSummary"]
        count = summary["invocationCount"]
        per_row_scans = sorted({op for op, per_row in operators(entry["queryExecutionPlan"])
                                if per_row and op.startswith(SCANS)})
        out.append({"query": re.sub(r"\s+", " ", entry["query"]).strip(), "invocations": count,
                    "execution_s": summary["executionTimeInUs"]["avg"] * count / 1e6,
                    "compile_s": summary["compileTimeInUs"]["avg"] * count / 1e6,
                    "per_row_scans": per_row_scans})
    return sorted(out, key=lambda s: -s["execution_s"])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("collect", "report"))
    ap.add_argument("--seconds", type=int, default=600, help="how long the collector runs (collect)")
    ap.add_argument("--json", type=Path, default=None, help="write the summary here too (report)")
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args(argv)
    settings = get_settings()
    with open_driver(settings) as driver:
        if args.action == "collect":
            records, _, _ = driver.execute_query("CALL db.stats.collect('QUERIES', {durationSeconds: $s})",
                                                 s=args.seconds, database_=settings.neo4j_database)
            print(records[0]["message"])
            return
        records, _, _ = driver.execute_query("CALL db.stats.retrieve('QUERIES') YIELD data RETURN data",
                                             database_=settings.neo4j_database)
    lines = summarise([r["data"] for r in records])
    print(f"{len(lines)} statement plans; execution {sum(s['execution_s'] for s in lines):.1f} s, "
          f"compile {sum(s['compile_s'] for s in lines):.1f} s")
    for s in lines[: args.top]:
        flag = f"  PER-ROW SCAN {s['per_row_scans']}" if s["per_row_scans"] else ""
        print(f"{s['execution_s']:8.2f} s  {s['compile_s']:6.2f} s compile  {s['invocations']:5d}x  "
              f"{s['query'][:100]}{flag}")
    flagged = [s for s in lines if s["per_row_scans"]]
    print(f"plans with a scan run once per row: {len(flagged)}")
    for s in flagged:
        if s not in lines[: args.top]:  # those above are flagged in place
            print(f"  {s['query'][:120]} {s['per_row_scans']}")
    if args.json:
        args.json.write_text(json.dumps(lines, indent=1))


if __name__ == "__main__":
    main()
