"""Issue 9's load rows, each with its baseline measured in the same run.

- **ICD-10-CM FY2026 tabular load** (225,808 rows: codes, IS_A, note edges): end to end (parse + write +
  diff/impact + promotion, ``LoadReport.seconds``) and writer-only (rows / wall time inside the writer), as
  ratios of the raw ``UNWIND $rows CREATE (n:Bench) SET n = row`` ceiling (``bench.load_ceiling.raw_ceiling``:
  100k flat 4-field rows, one session, the settings' batch size), measured before and after the load; the
  baseline is the mean of the two.
- **NCCI PTP load, 500k rows**: a synthetic practitioner table in the CMS layout (``loaders.ncci.synthetic``),
  end to end, as a ratio of the raw ceiling measured on the same edit rows as maps.
- **FY2026 annual set on an empty graph** (ICD-10-CM FY2026 tabular, the bundled ICD-10-PCS code file, HCPCS,
  MS-DRG FY2026 tables): a scratch Neo4j with an empty data directory is started for the row under the work
  dir (Community has one database; the benchmark's graph is not emptied), the schema applied, then the four
  loads timed one after the other, in seconds.

The first two load into the benchmark's graph as throwaway releases dated 1900 (never the release in force for
a date, so nothing served changes; diffed against the newest visible release of the system, as a real update
is) and are removed afterwards with ``RunLedger.discard_run``. ``ctx.quick``: the first three ICD-10-CM
chapters, 50k PTP rows, and the annual set with those and the first 10k PCS codes.

Usage: python -m bench.loads [--quick] [--only icd10cm,ncci,annual]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

from lxml import etree
from neo4j import Driver

from bench.common import BenchContext, Row, load_average
from bench.load_ceiling import make_rows, raw_ceiling
from bench.proc_cpu import cpu_seconds, pid_listening_on
from codegraph.db import open_driver
from codegraph.runtime.local_server import LocalNeo4j
from codegraph.settings import Settings, get_settings
from loaders.bundled import bundled_datasets, package_file
from loaders.machinery.pipeline import LoadReport, run_load
from loaders.machinery.release_diff import diff_and_impact
from loaders.machinery.runs import ReleaseSpec, RunLedger
from loaders.ncci.ptp import read_ptp
from loaders.ncci.synthetic import write_synthetic_ptp
from loaders.registry import all_loaders, load_source
from ontology.schema import apply_schema

CEILING_ROWS = 100_000
NCCI_ROWS, NCCI_ROWS_QUICK = 500_000, 50_000
QUICK_CHAPTERS = 3
QUICK_PCS_CODES = 10_000
# A window no date of service falls in: the benchmark's releases are never the ones in force.
BENCH_WINDOW = (date(1900, 1, 1), date(1900, 1, 2))
ANNUAL_SET = (("icd10cm", "FY2026"), ("icd10pcs", "FY2024"), ("hcpcs", "2024Q1"), ("msdrg", "FY2026"))


def icd10cm_tabular(ctx: BenchContext) -> Path:
    """The bundled FY2026 tabular XML, or (quick) a copy with its first chapters only."""
    full = package_file("simple_icd_10_cm", "data", "icd10c-tabular-April-1-2026.xml")
    if not ctx.quick:
        return full
    small = ctx.work_dir / f"icd10cm-tabular-first-{QUICK_CHAPTERS}-chapters.xml"
    if not small.exists():
        root = etree.fromstring(full.read_bytes(), etree.XMLParser(huge_tree=True))
        for chapter in root.findall("chapter")[QUICK_CHAPTERS:]:
            root.remove(chapter)
        small.write_bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
    return small


class ServerCpu:
    """CPU seconds of the Neo4j process (when it runs on this machine): what a write costs, whatever the noise.

    On a shared machine wall time is mostly waiting for a core; CPU per row says what each path asks of the
    server. None when the server is remote."""

    def __init__(self, settings: Settings) -> None:
        self.pid = pid_listening_on(int(settings.bolt_uri.rsplit(":", 1)[1])) if "127.0.0.1" in settings.bolt_uri \
            or "localhost" in settings.bolt_uri else None

    def read(self) -> float | None:
        return cpu_seconds(self.pid) if self.pid else None

    def per_1k_rows(self, before: float | None, rows: int) -> float | None:
        after = self.read()
        return round((after - before) / rows * 1000, 3) if after is not None and before is not None else None


class Ceiling:
    """The raw CREATE ceiling on ``rows``, measured around a load (warmed up once: a cold JVM is slower)."""

    def __init__(self, driver: Driver, database: str, rows: list[dict[str, Any]], batch: int,
                 cpu: ServerCpu | None = None) -> None:
        self.driver, self.database, self.rows, self.batch = driver, database, rows, batch
        self.cpu = cpu
        raw_ceiling(driver, database, rows[: max(1, len(rows) // 5)], batch)
        self.before = self._measure()
        self.after = self.before

    def _measure(self) -> float:
        start = self.cpu.read() if self.cpu else None
        rate = raw_ceiling(self.driver, self.database, self.rows, self.batch)
        # The clean-up DELETE is inside the measured CPU too: the ceiling's CPU per row is an upper bound.
        self.server_cpu_s_per_1k_rows = self.cpu.per_1k_rows(start, len(self.rows)) if self.cpu else None
        return rate

    def measure_after(self) -> None:
        self.after = self._measure()

    @property
    def mean(self) -> float:
        return (self.before + self.after) / 2

    def describe(self) -> str:
        return (f"raw UNWIND CREATE {self.mean:,.0f} rows/s (before {self.before:,.0f}, after {self.after:,.0f}; "
                f"{len(self.rows):,} rows, batch {self.batch:,}, one session)")


def bench_load(ctx: BenchContext, source: str, paths: list[Path], version: str,
               window: tuple[date, date] | None = BENCH_WINDOW) -> LoadReport:
    """A load as ``codegraph load`` runs it (diff/impact for code systems), under a release dated ``window``."""
    loader = all_loaders()[source]()
    start, end = window if window else (None, None)
    release = ReleaseSpec(loader.name, version, start, end, note="benchmark release, discarded")
    return run_load(ctx.driver, ctx.database, loader, paths, release, batch_size=ctx.settings.batch_size,
                    after_staging=diff_and_impact if source == "icd10cm" else None)


def discard(ctx: BenchContext, report: LoadReport) -> None:
    ledger = RunLedger(ctx.driver, ctx.database)
    removed = ledger.discard_run(report.run_id)
    ledger.finish(report.run_id, "discarded", removed, error="benchmark release removed")


def _statement_seconds(report: LoadReport) -> dict[str, float]:
    # getattr: the same module measures the code before these counters existed (a clean export of an older commit)
    top = sorted(getattr(report.stats, "seconds_per_statement", {}).items(), key=lambda kv: -kv[1])[:8]
    return {name: round(seconds, 2) for name, seconds in top}


def icd10cm_row(ctx: BenchContext) -> Row:
    xml = icd10cm_tabular(ctx)
    apply_schema(ctx.driver, ctx.database)
    cpu = ServerCpu(ctx.settings)
    ceiling = Ceiling(ctx.driver, ctx.database, make_rows(CEILING_ROWS), ctx.settings.batch_size, cpu)
    before = load_average()
    cpu_start = cpu.read()
    report = bench_load(ctx, "icd10cm", [xml], "FY2026-loadbench")
    load_cpu = cpu.per_1k_rows(cpu_start, report.stats.rows)
    try:
        ceiling.measure_after()
    finally:
        discard(ctx, report)
    rows = report.stats.rows
    end_to_end = rows / report.seconds / ceiling.mean
    writer_only = report.stats.rows_per_second / ceiling.mean
    return Row(
        path="ICD-10-CM FY2026 tabular load" + (" (quick: first chapters)" if ctx.quick else ""),
        measured=(f"{end_to_end:.2f}× end to end ({rows:,} rows in {report.seconds:.1f} s = "
                  f"{rows / report.seconds:,.0f} rows/s), {writer_only:.2f}× writer-only"),
        goal="≥ 0.8× end to end", met=end_to_end >= 0.8, ratio=round(end_to_end, 3), baseline=ceiling.describe(),
        details={"rows": rows, "seconds": round(report.seconds, 2), "writer_only_ratio": round(writer_only, 3),
                 "phases": {k: round(v, 2) for k, v in getattr(report, "phases", {}).items()},
                 "statement_seconds": _statement_seconds(report), "diff": (report.report or {}).get("diff"),
                 "server_cpu_s_per_1k_rows": {"load": load_cpu, "ceiling": ceiling.server_cpu_s_per_1k_rows},
                 "icd10cm_codes_already_in_graph": _codes_in_graph(ctx, "icd10cm"),
                 "load_average": [before, load_average()]},
    )


def _codes_in_graph(ctx: BenchContext, system_id: str) -> int:
    records, _, _ = ctx.driver.execute_query("MATCH (c:Code {system: $system}) RETURN count(c) AS n",
                                             system=system_id, database_=ctx.database)
    return int(records[0]["n"])


def ceiling_ptp_rows(path: Path, n: int) -> list[dict[str, Any]]:
    """The first ``n`` PTP rows as flat property maps of the edit's fields (what the raw CREATE stores)."""
    rows = []
    for e in islice(read_ptp(path), n):
        row = {"column1": e.column1, "column2": e.column2, "setting": e.setting.value, "effective": e.effective,
               "deletion": e.deletion, "modifier_indicator": e.modifier_indicator, "rationale": e.rationale,
               "prior_1996": e.prior_1996}
        rows.append({k: v for k, v in row.items() if v is not None})
    return rows


def ncci_row(ctx: BenchContext) -> Row:
    n = NCCI_ROWS_QUICK if ctx.quick else NCCI_ROWS
    ptp = ctx.work_dir / f"ccipra-synthetic-{n}.txt"
    if not ptp.exists():
        write_synthetic_ptp(ptp, n, seed=1)
    apply_schema(ctx.driver, ctx.database)
    cpu = ServerCpu(ctx.settings)
    ceiling = Ceiling(ctx.driver, ctx.database, ceiling_ptp_rows(ptp, min(n, 200_000)), ctx.settings.batch_size, cpu)
    before = load_average()
    cpu_start = cpu.read()
    # A suffixed 1999 quarter: the NCCI loader windows releases by quarter, and no claim is dated 1999.
    report = bench_load(ctx, "ncci_ptp", [ptp], "1999Q1loadbench", window=None)
    load_cpu = cpu.per_1k_rows(cpu_start, report.counts["edits"])
    try:
        ceiling.measure_after()
    finally:
        discard(ctx, report)
    edits = report.counts["edits"]
    ratio = edits / report.seconds / ceiling.mean
    writer_only = report.stats.rows_per_second / ceiling.mean
    return Row(
        path=f"NCCI PTP load, {n // 1000}k rows",
        measured=(f"{ratio:.2f}× end to end ({edits:,} edges in {report.seconds:.1f} s = "
                  f"{edits / report.seconds:,.0f} rows/s), {writer_only:.2f}× writer-only"),
        goal="≥ 0.8×", met=ratio >= 0.8, ratio=round(ratio, 3), baseline=ceiling.describe(),
        details={"edits": edits, "codes": report.counts.get("codes"), "seconds": round(report.seconds, 2),
                 "writer_only_ratio": round(writer_only, 3), "statement_seconds": _statement_seconds(report),
                 "server_cpu_s_per_1k_rows": {"load": load_cpu, "ceiling": ceiling.server_cpu_s_per_1k_rows},
                 "load_average": [before, load_average()]},
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def scratch_neo4j(work_dir: Path, like: Settings) -> Iterator[Settings]:
    """A Neo4j of its own with an empty data directory, stopped and its data removed afterwards."""
    state = Path(tempfile.mkdtemp(prefix="scratch-neo4j-", dir=work_dir))
    settings = Settings(
        CODEGRAPH_STATE_DIR=state, CODEGRAPH_BOLT_PORT=_free_port(), NEO4J_URI=None, NEO4J_PASSWORD=None,
        NEO4J_USER="neo4j", NEO4J_DATABASE="neo4j", CODEGRAPH_NEO4J_HEAP=like.local_heap,
        CODEGRAPH_NEO4J_PAGECACHE=like.local_pagecache, CODEGRAPH_BATCH_SIZE=like.batch_size,
    )
    jars = like.neo4j_home / "lib"
    if (jars / ".version").exists():  # hard links to the jars already here, rather than a Maven copy
        shutil.copytree(jars, settings.neo4j_home / "lib", copy_function=os.link)
    server = LocalNeo4j(settings)
    server.start()
    try:
        yield settings
    finally:
        server.stop()
        shutil.rmtree(state, ignore_errors=True)


def annual_set_paths(ctx: BenchContext) -> list[tuple[str, str, list[Path]]]:
    datasets = {(d.source, d.version): list(d.paths) for d in bundled_datasets()}
    out = []
    for source, version in ANNUAL_SET:
        paths = datasets[(source, version)]
        if ctx.quick and source == "icd10cm":
            paths = [icd10cm_tabular(ctx)]
        if ctx.quick and source == "icd10pcs":
            small = ctx.work_dir / f"icd10pcs-codes-first-{QUICK_PCS_CODES}.txt"
            if not small.exists():
                with paths[0].open("rb") as src:
                    small.write_bytes(b"".join(islice(src, QUICK_PCS_CODES)))
            paths = [small]
        out.append((source, version, paths))
    return out


def annual_set_row(ctx: BenchContext) -> Row:
    jobs = annual_set_paths(ctx)
    with scratch_neo4j(ctx.work_dir, ctx.settings) as settings, open_driver(settings) as driver:
        t0 = time.perf_counter()
        apply_schema(driver, settings.neo4j_database)
        schema_s = time.perf_counter() - t0
        before = load_average()
        per_load: dict[str, float] = {}
        rows = 0
        started = time.perf_counter()
        for source, version, paths in jobs:
            t = time.perf_counter()
            report = load_source(driver, settings, source, paths, version)
            per_load[f"{source}@{version}"] = round(time.perf_counter() - t, 2)
            rows += report.stats.rows
        total = time.perf_counter() - started
    return Row(
        path="FY2026 annual set on an empty graph" + (" (quick: smaller ICD-10-CM and PCS files)" if ctx.quick else ""),
        measured=(f"{total:.1f} s for {rows:,} rows (" + ", ".join(f"{k} {v:.1f} s" for k, v in per_load.items())
                  + f"; schema apply before it {schema_s:.1f} s)"),
        goal="< 30 s", met=total < 30, baseline="a scratch Neo4j 5.26 with an empty data dir, same heap and page cache",
        details={"seconds": round(total, 2), "per_load": per_load, "rows": rows, "schema_seconds": round(schema_s, 2),
                 "load_average": [before, load_average()]},
    )


ROWS = {"icd10cm": icd10cm_row, "ncci": ncci_row, "annual": annual_set_row}


def engine_speed_rows(ctx: BenchContext) -> list[Row]:
    return [make(ctx) for make in ROWS.values()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default=",".join(ROWS))
    args = ap.parse_args()
    settings = get_settings()
    with tempfile.TemporaryDirectory(prefix="bench-loads-") as tmp, open_driver(settings) as driver:
        ctx = BenchContext(driver=driver, settings=settings, work_dir=Path(tmp), quick=args.quick)
        print(f"Neo4j {driver.get_server_info().agent}; batch {settings.batch_size}; "
              f"load average {' '.join(f'{x:.2f}' for x in load_average())}", flush=True)
        for name in args.only.split(","):
            row = ROWS[name](ctx)
            print(f"{row.path}: {row.measured} | baseline {row.baseline} | goal {row.goal} | met {row.met}",
                  flush=True)
            print(f"    {row.details}", flush=True)


if __name__ == "__main__":
    main()
