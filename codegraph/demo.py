"""The main job: a local Neo4j with the bundled releases loaded and the API served."""

from __future__ import annotations

import time

from neo4j import Driver
from rich.console import Console

from codegraph.db import open_driver
from codegraph.settings import Settings
from graph_service.security import Role, new_key
from loaders.bundled import bundled_datasets
from loaders.machinery.runs import RunLedger
from loaders.registry import all_loaders, load_source
from ontology.schema import apply_schema
from ontology.vocabulary import L

SYNTHETIC_ENCOUNTERS = 2000
SYNTHETIC_SEED = 42


def load_synthetic_encounters(driver: Driver, settings: Settings, console: Console) -> None:
    """A few thousand generated inpatient stays with their coding revisions, unless encounters are loaded."""
    records, _, _ = driver.execute_query(f"MATCH (e:{L.Encounter}) RETURN count(e) > 0 AS any",
                                         database_=settings.neo4j_database)
    if records[0]["any"]:
        console.print("already loaded: encounters")
        return
    from codegraph.synthetic_encounters import generate

    out = settings.state_dir / "synthetic"
    console.print(f"generating {SYNTHETIC_ENCOUNTERS:,} synthetic inpatient encounters into {out} …")
    generate(out, encounters=SYNTHETIC_ENCOUNTERS, seed=SYNTHETIC_SEED)
    version = f"synthetic-{SYNTHETIC_SEED}"
    for source, path in (("fhir", out / "fhir"), ("coding", out / "assignments.ndjson")):
        report = load_source(driver, settings, source, [path], version, log=console.print)
        console.print(f"  {report.release}: {report.stats.rows:,} rows in {report.seconds:.1f}s")


def run_demo(settings: Settings, *, serve_api: bool, console: Console) -> None:
    if settings.uses_local_neo4j:
        from codegraph.runtime.local_server import LocalNeo4j

        t0 = time.perf_counter()
        status = LocalNeo4j(settings).start()
        console.print(f"Neo4j {status.version} on {status.bolt_uri} ready in {time.perf_counter() - t0:.1f}s")
    with open_driver(settings) as driver:
        apply_schema(driver, settings.neo4j_database)
        ledger = RunLedger(driver, settings.neo4j_database)
        loaded = {r["id"] for r in ledger.visible_releases()}
        for ds in bundled_datasets():
            if ds.source not in all_loaders():
                continue
            if f"{ds.source}@{ds.version}" in loaded:
                console.print(f"already loaded: {ds.what}")
                continue
            console.print(f"loading {ds.what} …")
            report = load_source(driver, settings, ds.source, list(ds.paths), ds.version, log=console.print)
            console.print(f"  {report.release}: {report.stats.rows:,} rows in {report.seconds:.1f}s")
        load_synthetic_encounters(driver, settings, console)
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
