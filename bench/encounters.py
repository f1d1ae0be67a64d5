"""Encounter ingest and audit latency at scale: N synthetic inpatient stays (default 100k) end to end.

Measured in one run, against the configured Neo4j:
- FHIR ingest (``codegraph load fhir`` on the generated NDJSON shards): encounters/s end to end (parse +
  code checks + writes) and for the writes alone, and its ratio to the raw ceiling: the same node and
  relationship rows (of the first ``--ceiling-encounters`` stays) written with plain ``UNWIND … CREATE``
  under a scratch label, with nothing but an id index, in the same run;
- the bulk coding load (``codegraph load coding``): assignments/s, including MS-DRG grouping;
- p50/p99 of the first page of the DRG-shift audit (default threshold $5,000) and of ``encounter_trace`` for random
  encounters, and the time of ``coder_patterns`` — through the service functions the API calls.

Usage: python -m bench.encounters [--encounters 100000] [--seed 1] [--repeat 30] [--keep]
The releases it loads (``fhir@bench-…``, ``coding@bench-…``, and ``msdrg@FY2026`` from Table 5 when no
MS-DRG FY2026 release is visible) are discarded at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from codegraph.db import open_driver
from codegraph.settings import Settings, get_settings
from demo_data.synthetic_encounters import generate
from graph_service.graph import Graph
from graph_service.services.audits import drg_shifts_page, encounter_trace, run_audit
from loaders.bundled import package_file
from loaders.fhir.bundle import parse_fhir_source
from loaders.fhir.graph_rows import EncounterRows
from loaders.fhir.load import fhir_shards
from loaders.machinery.runs import RunLedger
from loaders.machinery.writer import batched
from loaders.registry import load_source
from ontology.schema import apply_schema
from ontology.vocabulary import L

BENCH_LABEL = "BenchEncounterRow"  # deliberately outside the ontology; dropped at the end
BENCH_REL = "BENCH_LINK"
MSDRG_6K_SAMPLE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "msdrg" / "table6k_fy2026_sample.txt"


def percentiles(samples: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return q[49] * 1000, q[98] * 1000


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


# ---- the raw ceiling -----------------------------------------------------------------------------------
def native_times(row: dict[str, Any]) -> dict[str, datetime]:
    """The row's zoned datetimes as the Python values the driver sends (the loader sends them as text)."""
    return {k: datetime.fromisoformat(v) for k, v in row["times"].items()}


def ceiling_rows(rows: EncounterRows) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The nodes and relationships the loader writes for ``rows``, as plain property maps and id pairs."""
    nodes: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for p in rows.patients:
        nodes.append({"id": "p:" + p["id"], "birth_date": p["birth_date"], "sex": p["sex"]})
    for e in rows.encounters:
        nodes.append({"id": "e:" + e["id"], **{k: v for k, v in e["props"].items() if v is not None},
                      **native_times(e)})
        links.append({"s": "p:" + e["patient"], "t": "e:" + e["id"]})
        if e["payer"]:
            links.append({"s": "e:" + e["id"], "t": "y:" + e["payer"]})
    for d in rows.documents:
        nodes.append({"id": "d:" + d["id"], **d["props"]})
        links.append({"s": "e:" + d["encounter"], "t": "d:" + d["id"]})
    for s in rows.sections:
        nodes.append({"id": "s:" + s["id"], "title": s["title"], "text": s["text"], "start_offset": s["start_offset"]})
        links.append({"s": "d:" + s["document"], "t": "s:" + s["id"]})
    for x in rows.evidence:
        nodes.append({"id": "x:" + x["id"], **{k: v for k, v in x["props"].items() if v is not None},
                      **native_times(x)})
        links.append({"s": "e:" + x["encounter"], "t": "x:" + x["id"]})
        target = "s:" + x["section"] if x["section"] else "d:" + x["document"] if x["document"] else None
        if target:
            links.append({"s": "x:" + x["id"], "t": target})
    codes = set()
    for concept_rows in rows.concepts.values():
        for c in concept_rows:
            codes.add(c["key"])
            links.append({"s": "x:" + c["evidence"], "t": "c:" + c["key"]})
    payers = {e["payer"] for e in rows.encounters if e["payer"]}
    nodes += [{"id": "c:" + k} for k in codes] + [{"id": "y:" + p} for p in payers]
    return nodes, links


def raw_ceiling(driver: Any, database: str, shards: list[Path], batch: int) -> tuple[int, int, int, float]:
    """(encounters, nodes, relationships, seconds) of writing the shards' rows with plain UNWIND CREATE."""
    encounters, nodes, links, seconds = 0, 0, 0, 0.0
    driver.execute_query(f"CREATE INDEX bench_row_id IF NOT EXISTS FOR (n:{BENCH_LABEL}) ON (n.id)",
                         database_=database)
    driver.execute_query("CALL db.awaitIndexes(300)", database_=database)
    seen: set[str] = set()
    with driver.session(database=database) as session:
        for shard in shards:
            bundle = parse_fhir_source(shard, date.today())
            node_rows, link_rows = ceiling_rows(EncounterRows.of(bundle))
            node_rows = [n for n in node_rows if n["id"] not in seen]  # codes and payers repeat across shards
            seen.update(n["id"] for n in node_rows if n["id"][:2] in ("c:", "y:"))
            t0 = time.perf_counter()
            for chunk in batched(node_rows, batch):
                session.execute_write(lambda tx, c=chunk: tx.run(
                    f"UNWIND $rows AS row CREATE (n:{BENCH_LABEL}) SET n = row", rows=c).consume())
            for chunk in batched(link_rows, batch):
                session.execute_write(lambda tx, c=chunk: tx.run(
                    f"UNWIND $rows AS row MATCH (a:{BENCH_LABEL} {{id: row.s}}) MATCH (b:{BENCH_LABEL} {{id: row.t}}) "
                    f"CREATE (a)-[:{BENCH_REL}]->(b)", rows=c).consume())
            seconds += time.perf_counter() - t0
            encounters += len(bundle.encounters)
            nodes += len(node_rows)
            links += len(link_rows)
        # Links first, in batches of their own: a batch of nodes detached with the code nodes' thousands of links
        # outgrew the transaction memory pool at 10k stays and left the rows behind.
        session.run(f"MATCH ()-[r:{BENCH_REL}]->() CALL (r) {{ DELETE r }} IN TRANSACTIONS OF 20000 ROWS").consume()
        session.run(f"MATCH (n:{BENCH_LABEL}) CALL (n) {{ DELETE n }} IN TRANSACTIONS OF 20000 ROWS").consume()
    driver.execute_query("DROP INDEX bench_row_id IF EXISTS", database_=database)
    return encounters, nodes, links, seconds


# ---- clean-up -------------------------------------------------------------------------------------------
def discard_release(driver: Any, database: str, release_id: str) -> None:
    """Everything a release's runs wrote, the release and its run records.

    Nodes first, label by label (their relationships go with them): the ledger's relationship sweep scans every
    relationship of the graph per batch, which on millions of them is slow; it then finds what is left.
    """
    rows, _, _ = driver.execute_query(f"MATCH (run:{L.LoadRun}) WHERE run.release = $id RETURN collect(run.id) AS runs",
                                      id=release_id, database_=database)
    ledger = RunLedger(driver, database)
    for run in rows[0]["runs"]:
        with driver.session(database=database) as session:
            for label in (L.AssignedCode, L.CodingAssignment, L.Evidence, L.DocumentSection, L.ClinicalDocument,
                          L.Encounter, L.Patient):
                session.run(f"MATCH (n:{label}) WHERE n.load_run = $run "
                            "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS", run=run).consume()
        ledger.discard_run(run)
    driver.execute_query(f"MATCH (r:{L.Release} {{id: $id}}) DETACH DELETE r", id=release_id, database_=database)
    driver.execute_query(f"MATCH (run:{L.LoadRun}) WHERE run.release = $id DETACH DELETE run", id=release_id,
                         database_=database)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--encounters", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=30, help="samples per query latency")
    ap.add_argument("--ceiling-encounters", type=int, default=10_000, help="stays whose rows the ceiling writes")
    ap.add_argument("--workdir", type=Path, default=None, help="where to generate (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the loaded releases")
    args = ap.parse_args()
    settings: Settings = get_settings()
    db = settings.neo4j_database
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-encounters-"))
    tag = f"bench-{args.seed}-{args.encounters}"
    loaded: list[str] = []
    with open_driver(settings) as driver:
        apply_schema(driver, db)
        graph = Graph(driver, db)
        print(f"{args.encounters:,} encounters, seed {args.seed}; Neo4j {driver.get_server_info().agent} at "
              f"{settings.bolt_uri}; batch {settings.batch_size}", flush=True)
        try:
            seconds, summary = timed(lambda: generate(work, encounters=args.encounters, seed=args.seed))
            lines = sum(summary.assignments_by_version.values())
            print(f"generate: {seconds:.1f}s ({args.encounters / seconds:,.0f} encounters/s), {summary.shards} "
                  f"shards, {lines:,} assignment lines {summary.assignments_by_version}", flush=True)

            if not any(r["id"] == "msdrg@FY2026" for r in RunLedger(driver, db).visible_releases("msdrg")):
                load_source(driver, settings, "msdrg", [package_file("drg", "data", "cms", "drg_weights.txt"),
                                                        MSDRG_6K_SAMPLE], "FY2026")
                loaded.append("msdrg@FY2026")
                print("loaded msdrg@FY2026 (Table 5 and a Table 6K sample) for the grouping", flush=True)

            report = load_source(driver, settings, "fhir", [work / "fhir"], tag)
            loaded.append(report.release)
            graph_elements = report.stats.nodes_created + report.stats.relationships_created
            ingest = args.encounters / report.seconds
            writer = args.encounters / report.stats.seconds
            print(f"FHIR ingest: {report.seconds:.1f}s = {ingest:,.0f} encounters/s end to end; writes "
                  f"{report.stats.seconds:.1f}s = {writer:,.0f} encounters/s ({report.stats.rows:,} rows, "
                  f"{graph_elements:,} nodes+relationships, {report.stats.rows_per_second:,.0f} rows/s)", flush=True)
            warnings = {k: v for k, v in report.counts.items() if k.startswith("codes_")}
            print(f"  counts: evidence {report.counts['evidence']:,}, sections {report.counts['sections']:,}; "
                  f"code checks {warnings}", flush=True)

            shards = fhir_shards([work / "fhir"])
            sample = shards[: max(1, -(-args.ceiling_encounters // (args.encounters // len(shards) or 1)))]
            enc, nodes, links, seconds = raw_ceiling(driver, db, sample, settings.batch_size)
            ceiling = enc / seconds
            print(f"raw UNWIND CREATE ceiling on the same rows of {enc:,} encounters: {nodes:,} nodes + "
                  f"{links:,} relationships in {seconds:.1f}s = {ceiling:,.0f} encounters/s; "
                  f"ratio end to end {ingest / ceiling:.2f}, writes only {writer / ceiling:.2f}", flush=True)

            report = load_source(driver, settings, "coding", [work / "assignments.ndjson"], tag)
            loaded.append(report.release)
            c = report.counts
            print(f"bulk coding load: {c['assignments']:,} assignments ({c['assigned_codes']:,} codes, "
                  f"{c['revisions']:,} revisions) in {report.seconds:.1f}s = "
                  f"{c['assignments'] / report.seconds:,.0f} assignments/s; grouped {c.get('drg_grouped', 0):,} "
                  f"({c.get('drg_groupings_reused', 0):,} groupings reused), not grouped "
                  f"{c.get('drg_not_grouped', 0) + c.get('drg_not_grouped_no_service', 0):,}", flush=True)

            shifts: list[float] = []
            page = None
            for _ in range(args.repeat + 1):
                seconds, page = timed(lambda: drg_shifts_page(graph, settings, min_delta=5000.0))
                shifts.append(seconds)
            p50, p99 = percentiles(shifts[1:])
            print(f"drg_shifts (> $5,000), first page: {len(page.rows) if page else 0:,} rows, "
                  f"{len(page.model_dump_json()) if page else 0:,} B; p50 {p50:,.0f} ms, p99 {p99:,.0f} ms "
                  f"(n={args.repeat}; the curve over sizes: python -m bench.audit_scaling)", flush=True)
            rng = random.Random(args.seed)
            ids = [f"enc-{rng.randint(1, args.encounters):07d}" for _ in range(args.repeat + 1)]
            traces = [timed(lambda i=i: encounter_trace(graph, settings, i))[0] for i in ids]
            p50, p99 = percentiles(traces[1:])
            print(f"encounter_trace: p50 {p50:,.1f} ms, p99 {p99:,.1f} ms (n={args.repeat} random encounters)",
                  flush=True)
            runs = [timed(lambda: run_audit(graph, settings, "coder_patterns", {"min_revisions": 1})) for _ in range(3)]
            top = runs[-1][1][0] if runs[-1][1] else {}
            print(f"coder_patterns: {statistics.median(t for t, _ in runs) * 1000:,.0f} ms (median of 3); top: "
                  f"{top.get('coder')} up {top.get('up')} down {top.get('down')} avg vs peers "
                  f"{top.get('avg_delta_vs_peers')}", flush=True)
        finally:
            if not args.keep:
                for release in reversed(loaded):
                    discard_release(driver, db, release)
                print(f"discarded {loaded}", flush=True)
            if args.workdir is None:
                shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
