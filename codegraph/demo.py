"""The main job: a local Neo4j with the bundled releases loaded and the API served."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from neo4j import Driver
from rich.console import Console

from codegraph.db import open_driver
from codegraph.demo_loads import (
    GraphSize,
    PlanRunner,
    Step,
    StepOutcome,
    StepTiming,
    dataset_steps,
    timings_table,
)
from codegraph.settings import Settings
from graph_service.security import Role
from loaders.bundled import BundledDataset, bundled_datasets
from loaders.machinery.parse_ahead import PARSED_AHEAD
from loaders.machinery.pipeline import LoadReport
from loaders.machinery.runs import RunLedger
from loaders.machinery.writer import WriteStats
from loaders.registry import all_loaders, load_source
from ontology.schema import apply_schema
from ontology.vocabulary import L

SYNTHETIC_ENCOUNTERS = 2000
SYNTHETIC_SEED = 42
# Loads in flight at once: most loads alternate between parsing (this process) and writing (the server). Two keep
# a 2-core machine busy; a third lets the small fixture loads pass the two big first ones instead of queueing
# behind them into the ICD-10-CM chain's time (measured: ready 89.6 s with three, 92.2 s with two).
DEMO_JOBS = int(os.environ.get("CODEGRAPH_DEMO_JOBS", "3"))


def encounter_steps(driver: Driver, settings: Settings, after: set[str]) -> list[Step]:
    """Generate a few thousand inpatient stays (overlapping the code loads: it needs no graph), then ingest
    them as FHIR and load their coding revisions, once every code system is loaded; nothing if encounters are."""
    records, _, _ = driver.execute_query(f"MATCH (e:{L.Encounter}) RETURN count(e) > 0 AS any",
                                         database_=settings.neo4j_database)
    if records[0]["any"]:
        return []
    from demo_data.synthetic_encounters import generate

    out = settings.state_dir / "synthetic"
    version = f"synthetic-{SYNTHETIC_SEED}"

    def make() -> StepOutcome:
        generate(out, encounters=SYNTHETIC_ENCOUNTERS, seed=SYNTHETIC_SEED)
        return StepOutcome(note=f"{SYNTHETIC_ENCOUNTERS:,} stays into {out}")

    def load(source: str, path: Path) -> Callable[[], StepOutcome]:
        def run() -> StepOutcome:
            report = load_source(driver, settings, source, [path], version)
            return StepOutcome(rows=report.stats.records_created, note=where_time_went(report))
        return run

    fhir, coding = f"fhir@{version}", f"coding@{version}"
    return [
        Step("generate encounters", f"generate {SYNTHETIC_ENCOUNTERS:,} synthetic inpatient encounters", make),
        Step(fhir, f"FHIR ingest of the {SYNTHETIC_ENCOUNTERS:,} encounters", load("fhir", out / "fhir"),
             {*after, "generate encounters"}),
        Step(coding, "their coding assignments (grouped to MS-DRGs)", load("coding", out / "assignments.ndjson"),
             {fhir}),
    ]


def where_time_went(report: LoadReport, *, at_least: float = 1.0) -> str:
    """The slowest statements of a load, and its wait for the full-text index when that was long."""
    waited = report.phases.get("text_index", 0.0)
    said = slowest_statements(report.stats, at_least=at_least)
    if waited >= at_least:
        said += f"{', ' if said else ''}full-text index catching up {waited:.1f}s"
    return said


def slowest_statements(stats: WriteStats, *, top: int = 2, at_least: float = 1.0) -> str:
    """Where a load's write time went, when it is worth saying: ``icd10cm codes 11.1s, icd10cm hierarchy 3.3s``,
    and the batches the server made it retry."""
    slow = sorted(((s, name) for name, s in stats.seconds_per_statement.items() if s >= at_least), reverse=True)
    said = [f"{name} {s:.1f}s" for s, name in slow[:top]]
    said += [f"{name}: {n} batch{'es' if n > 1 else ''} retried after a lock conflict"
             for name, n in sorted(stats.retries_per_statement.items())]
    return ", ".join(said)


def load_steps(driver: Driver, settings: Settings) -> list[Step]:
    """Every bundled release not yet visible, then the synthetic encounters; the long parses of the releases
    to load start in the background at once (``parse_ahead``)."""
    ledger = RunLedger(driver, settings.neo4j_database)
    loaded = {r["id"] for r in ledger.visible_releases()}
    datasets = [ds for ds in bundled_datasets() if ds.source in all_loaders()]
    # Only now, not beside Neo4j's start (it keeps both cores busy: the parse delayed it by 3 s) nor before the
    # schema (its statements waited on the GIL while a parse held it: 2.6 → 6.3 s).
    threading.Thread(target=parse_ahead, args=([ds for ds in datasets if f"{ds.source}@{ds.version}" not in loaded],),
                     name="parse-bundled-ahead", daemon=True).start()

    def load(ds: BundledDataset) -> StepOutcome:
        if f"{ds.source}@{ds.version}" in loaded:
            return StepOutcome(note="already loaded")
        report = load_source(driver, settings, ds.source, list(ds.paths), ds.version)
        return StepOutcome(rows=report.stats.records_created, note=where_time_went(report))

    steps = dataset_steps(datasets, load)
    return steps + encounter_steps(driver, settings, {s.key for s in steps})


def demo_keys(settings: Settings) -> dict[str, str]:
    """One key per role, minted on the first demo run only (labelled "demo"); later runs mint none and return
    nothing, since only hashes are kept."""
    from codegraph.apikeys import DEMO_LABEL, add_key, list_keys

    if {e.role for e in list_keys(settings.api_keys_file) if e.label == DEMO_LABEL} >= {r.value for r in Role}:
        return {}
    return {role.value: add_key(settings.api_keys_file, role, DEMO_LABEL) for role in Role}


def run_demo(settings: Settings, *, serve_api: bool, console: Console, jobs: int = DEMO_JOBS) -> None:
    # Plans that touch several labels make the server attach performance notifications; the demo is not the place
    # to show them (queries/ and the tests are).
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
    try:
        _run_demo(settings, serve_api=serve_api, console=console, jobs=jobs)
    except KeyboardInterrupt:
        console.print(f"\n[bold]stopped.[/] {still_running(settings)}", highlight=False, soft_wrap=True)
        raise SystemExit(130) from None


def still_running(settings: Settings) -> str:
    """What Ctrl-C leaves behind: the local Neo4j keeps running (a load in flight is rolled back whole)."""
    if not settings.uses_local_neo4j:
        return f"Neo4j at {settings.neo4j_uri} was not started by the demo and keeps running."
    state = "" if settings.state_dir == Settings.model_fields["state_dir"].default_factory() else \
        f"CODEGRAPH_STATE_DIR={settings.state_dir} "  # type: ignore[misc]
    port = "" if settings.local_bolt_port == 7697 else f"CODEGRAPH_BOLT_PORT={settings.local_bolt_port} "
    return (f"Neo4j keeps running on {settings.bolt_uri} (a load in flight was rolled back whole); "
            f"`codegraph demo` again resumes where this run stopped. Stop Neo4j with: "
            f"{state}{port}codegraph neo4j stop")


def parse_ahead(datasets: list[BundledDataset]) -> None:
    """Hand these releases' long parses (ICD-10-CM tabular XML, MS-DRG tables) to the background, in load order:
    they run while the first loads write, off the critical path (``loaders/machinery/parse_ahead.py``)."""
    loaders = all_loaders()
    for ds in datasets:
        prepare = getattr(loaders[ds.source](), "prepare", None)
        if prepare is not None:
            prepare(list(ds.paths))


def _run_demo(settings: Settings, *, serve_api: bool, console: Console, jobs: int) -> None:
    t0 = time.perf_counter()
    timings: list[StepTiming] = []
    if settings.uses_local_neo4j:
        from codegraph.runtime.local_server import LocalNeo4j

        status = LocalNeo4j(settings).start()
        started = time.perf_counter() - t0
        timings.append(StepTiming("neo4j start", "Neo4j", 0.0, started, 0, "loaded"))
        console.print(f"Neo4j {status.version} on {status.bolt_uri} ready in {started:.1f}s")
    with open_driver(settings) as driver:
        apply_schema(driver, settings.neo4j_database)
        offset = time.perf_counter() - t0
        console.print(f"loading the bundled releases and synthetic encounters, {jobs} at a time "
                      "(a status line every few seconds)")
        runner = PlanRunner(load_steps(driver, settings), jobs=jobs, console=console,
                            size=GraphSize(driver, settings.neo4j_database))
        try:
            for timing in runner.run():
                timing.started += offset
                timings.append(timing)
        finally:
            PARSED_AHEAD.clear()  # a release that was already loaded never took its parse
    ready = time.perf_counter() - t0
    console.print(timings_table(timings, ready))
    keys = demo_keys(settings)
    base = f"http://{settings.api_host}:{settings.api_port}"
    engine = keys.get("engine", "$ENGINE_KEY")
    auditor = keys.get("auditor", "$AUDITOR_KEY")
    shown = (f"""engine={engine}
            auditor={auditor}
            maintainer={keys['maintainer']}""" if keys else
             "made by the first demo run and shown then (only their hashes are kept): `codegraph apikey list`, "
             "`codegraph apikey create --role engine`")
    print(f"""
API:        {base}   (OpenAPI docs: {base}/docs)
API keys:   {shown}
Try:
  curl -s -H 'X-API-Key: {engine}' {base}/v1/releases
  curl -s -H 'X-API-Key: {engine}' '{base}/v1/codes/icd10cm/S72.001A?date=2025-11-03'
  curl -s -H 'X-API-Key: {engine}' '{base}/v1/codes/icd10cm/I50/descendants?limit=5'
  curl -s -H 'X-API-Key: {auditor}' '{base}/v1/audit/drg-shifts?min_delta=5000'
  curl -s -H 'X-API-Key: {auditor}' '{base}/v1/audit/coder-patterns'
""", flush=True)
    if serve_api:
        import uvicorn

        from graph_service.app import create_app

        uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, log_level="info")
