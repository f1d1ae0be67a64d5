"""The main job: a local Neo4j with the bundled releases loaded and the API served."""

from __future__ import annotations

import os
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
from graph_service.security import Role, new_key
from loaders.bundled import BundledDataset, bundled_datasets
from loaders.machinery.runs import RunLedger
from loaders.registry import all_loaders, load_source
from ontology.schema import apply_schema
from ontology.vocabulary import L

SYNTHETIC_ENCOUNTERS = 2000
SYNTHETIC_SEED = 42
# Loads in flight at once: most loads alternate between parsing (this process) and writing (the server), so two
# keep a 2-core machine busy; more only queue on the server.
DEMO_JOBS = int(os.environ.get("CODEGRAPH_DEMO_JOBS", "2"))


def encounter_steps(driver: Driver, settings: Settings, after: set[str]) -> list[Step]:
    """Generate a few thousand inpatient stays (overlapping the code loads: it needs no graph), then ingest
    them as FHIR and load their coding revisions, once every code system is loaded; nothing if encounters are."""
    records, _, _ = driver.execute_query(f"MATCH (e:{L.Encounter}) RETURN count(e) > 0 AS any",
                                         database_=settings.neo4j_database)
    if records[0]["any"]:
        return []
    from codegraph.synthetic_encounters import generate

    out = settings.state_dir / "synthetic"
    version = f"synthetic-{SYNTHETIC_SEED}"

    def make() -> StepOutcome:
        generate(out, encounters=SYNTHETIC_ENCOUNTERS, seed=SYNTHETIC_SEED)
        return StepOutcome(note=f"{SYNTHETIC_ENCOUNTERS:,} stays into {out}")

    def load(source: str, path: Path) -> Callable[[], StepOutcome]:
        def run() -> StepOutcome:
            report = load_source(driver, settings, source, [path], version)
            return StepOutcome(rows=report.stats.rows)
        return run

    fhir, coding = f"fhir@{version}", f"coding@{version}"
    return [
        Step("generate encounters", f"generate {SYNTHETIC_ENCOUNTERS:,} synthetic inpatient encounters", make),
        Step(fhir, f"FHIR ingest of the {SYNTHETIC_ENCOUNTERS:,} encounters", load("fhir", out / "fhir"),
             {*after, "generate encounters"}),
        Step(coding, "their coding assignments (grouped to MS-DRGs)", load("coding", out / "assignments.ndjson"),
             {fhir}),
    ]


def load_steps(driver: Driver, settings: Settings) -> list[Step]:
    """Every bundled release not yet visible, then the synthetic encounters."""
    ledger = RunLedger(driver, settings.neo4j_database)
    loaded = {r["id"] for r in ledger.visible_releases()}
    datasets = [ds for ds in bundled_datasets() if ds.source in all_loaders()]

    def load(ds: BundledDataset) -> StepOutcome:
        if f"{ds.source}@{ds.version}" in loaded:
            return StepOutcome(note="already loaded")
        report = load_source(driver, settings, ds.source, list(ds.paths), ds.version)
        return StepOutcome(rows=report.stats.rows)

    steps = dataset_steps(datasets, load)
    return steps + encounter_steps(driver, settings, {s.key for s in steps})


def run_demo(settings: Settings, *, serve_api: bool, console: Console, jobs: int = DEMO_JOBS) -> None:
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
        for timing in runner.run():
            timing.started += offset
            timings.append(timing)
    ready = time.perf_counter() - t0
    console.print(timings_table(timings, ready))
    keys = {}
    settings.api_keys_file.parent.mkdir(parents=True, exist_ok=True)
    with settings.api_keys_file.open("a") as fh:
        for role in Role:
            key, line = new_key(role)
            keys[role.value] = key
            fh.write(line + "\n")
    settings.api_keys_file.chmod(0o600)
    base = f"http://{settings.api_host}:{settings.api_port}"
    engine = keys["engine"]
    print(f"""
API:        {base}   (OpenAPI docs: {base}/docs)
API keys:   engine={engine}
            auditor={keys['auditor']}
            maintainer={keys['maintainer']}
Try:
  curl -s -H 'X-API-Key: {engine}' {base}/v1/releases
  curl -s -H 'X-API-Key: {engine}' '{base}/v1/codes/icd10cm/S72.001A?date=2025-11-03'
  curl -s -H 'X-API-Key: {engine}' '{base}/v1/codes/icd10cm/I50/descendants?limit=5'
  curl -s -H 'X-API-Key: {keys['auditor']}' '{base}/v1/audit/drg-shifts?min_delta=5000'
  curl -s -H 'X-API-Key: {keys['auditor']}' '{base}/v1/audit/coder-patterns'
""", flush=True)
    if serve_api:
        import uvicorn

        from graph_service.app import create_app

        uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, log_level="info")
