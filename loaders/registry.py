"""Every loader by the name the CLI and the demo use, and how a load is run from settings."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from neo4j import Driver

from codegraph.settings import Settings
from loaders.machinery.gates import PromotionGates
from loaders.machinery.pipeline import Loader, LoadReport, run_load
from loaders.machinery.release_diff import diff_and_impact
from loaders.machinery.runs import ReleaseSpec
from ontology.code_systems import SYSTEMS
from ontology.schema import apply_schema, missing_schema

LoaderFactory = Callable[[], Loader]

LOADERS: dict[str, LoaderFactory] = {}
# Each module registers its loader on import; new sources are added here.
LOADER_MODULES = ("loaders.icd10cm.load", "loaders.icd10pcs.load", "loaders.hcpcs.load", "loaders.cpt.load",
                  "loaders.msdrg_tables.load")
LOADER_MODULES += ("loaders.coverage.load_mcd", "loaders.coverage.load_payer_rules")
LOADER_MODULES += ("loaders.snomed.load", "loaders.icd10cm.conversion")
LOADER_MODULES += ("loaders.ncci.load",)
LOADER_MODULES += ("loaders.fhir.load", "loaders.coding.load")
LOADER_MODULES += ("loaders.rules.load", "loaders.conceptmap.load")
LOADER_MODULES += ("loaders.valueset.load",)


def all_loaders() -> dict[str, LoaderFactory]:
    for module in LOADER_MODULES:
        importlib.import_module(module)
    return LOADERS


def register(name: str) -> Callable[[LoaderFactory], LoaderFactory]:
    def deco(factory: LoaderFactory) -> LoaderFactory:
        LOADERS[name] = factory
        return factory

    return deco


def load_source(
    driver: Driver,
    settings: Settings,
    source: str,
    paths: list[Path],
    version: str,
    *,
    dry_run: bool = False,
    batch_size: int | None = None,
    show_progress: bool = False,
    gates: PromotionGates | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> LoadReport:
    """``gates``: the sanity gates a code release must pass to be promoted (default ``PromotionGates()``)."""
    loader = all_loaders()[source]()
    release = ReleaseSpec.parse(loader.name, version)
    ensure_schema(driver, settings.neo4j_database, log)
    # Code systems report their diff and impact against the previous release before promotion.
    after = getattr(loader, "after_staging", None) or (diff_and_impact if source in SYSTEMS else None)
    return run_load(
        driver, settings.neo4j_database, loader, paths, release, batch_size=batch_size or settings.batch_size,
        dry_run=dry_run, show_progress=show_progress, after_staging=after, gates=gates or PromotionGates(), log=log,
    )


def ensure_schema(driver: Driver, database: str, log: Callable[[str], None]) -> list[str]:
    """Apply the ontology's constraints and indexes when any is missing, before anything is written.

    Applied rather than refused: it is what the maintainer would be told to run (``codegraph schema apply``),
    it is idempotent, and without it every MERGE of a load scans its label (a 74k-code list took over 20
    minutes instead of about two). Returns the names that were missing."""
    missing = missing_schema(driver, database)
    if missing:
        log(f"the database lacks {len(missing)} of the ontology's constraints and indexes (e.g. {missing[0]}): "
            "applying them before the load, as `codegraph schema apply` does")
        apply_schema(driver, database)
    return missing
