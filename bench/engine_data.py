"""The data the engine-speed rows read, loaded into the graph where it is missing, and the inputs drawn from it.

Works on a fresh graph: applies the schema, then loads ICD-10-CM FY2026 (tabular XML) and MS-DRG FY2026 from
the bundled packages and a synthetic NCCI quarter (500k PTP rows, 15k MUE codes; ``loaders.ncci.synthetic``)
unless they are already visible. The NCCI tables are loaded as release ``2026Q1bench``: a suffixed quarter
keeps the 2026Q1 window and sorts after a plain ``2026Q1``, so it is the release in force for the claim's
date of service even where the fixture quarter is loaded. It is kept for the next run (loading it takes a
minute or two); ``discard_bench_ncci`` removes it.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from neo4j import Driver

from codegraph.settings import Settings
from loaders.bundled import bundled_datasets
from loaders.machinery.runs import RunLedger
from loaders.ncci import ptp_ranges
from loaders.ncci.common import NcciSetting
from loaders.ncci.synthetic import write_synthetic_mue, write_synthetic_ptp
from loaders.registry import load_source
from ontology.release_ranges import members, with_scope
from ontology.schema import apply_schema
from ontology.vocabulary import L, R

ICD10CM_RELEASE = "icd10cm@FY2026"
MSDRG_RELEASE = "msdrg@FY2026"
NCCI_VERSION = "2026Q1bench"
NCCI_PTP_ROWS = 500_000
NCCI_MUE_CODES = 15_000
CLAIM_DOS = date(2026, 2, 10)
# Fifteen FY2026 ICD-10-CM codes of a plausible encounter; E11.9 with E10.9 is an Excludes1 conflict.
CLAIM_DIAGNOSES = ("I50.9", "E11.9", "E10.9", "I10", "N18.30", "J44.9", "E78.5", "Z79.4", "I25.10", "K21.9",
                   "M17.11", "E66.9", "G47.33", "F32.A", "Z87.891")

Log = Callable[[str], None]


@dataclass(frozen=True)
class Need:
    """Which data a set of rows reads; rows not selected do not pay for loads they do not use."""

    icd10cm: bool = False
    msdrg: bool = False
    ncci: bool = False


def _visible(driver: Driver, database: str, release_id: str) -> bool:
    records, _, _ = driver.execute_query(
        f"MATCH (r:{L.Release} {{id: $id, status: 'visible'}}) RETURN count(r) AS n", id=release_id,
        database_=database)
    return records[0]["n"] > 0


def _bundled_paths(source: str, version: str) -> list[Path]:
    for dataset in bundled_datasets():
        if dataset.source == source and dataset.version == version:
            return list(dataset.paths)
    raise LookupError(f"no bundled {source} {version}")


def _load_bundled(driver: Driver, settings: Settings, source: str, version: str, log: Log) -> None:
    release_id = f"{source}@{version}"
    if _visible(driver, settings.neo4j_database, release_id):
        return
    log(f"loading {release_id} from the bundled package (missing from the graph)")
    report = load_source(driver, settings, source, _bundled_paths(source, version), version)
    log(f"  {release_id}: {report.seconds:.0f} s")


def _load_ncci(driver: Driver, settings: Settings, log: Log) -> None:
    if _visible(driver, settings.neo4j_database, f"ncci_ptp@{NCCI_VERSION}") and _visible(
            driver, settings.neo4j_database, f"ncci_mue@{NCCI_VERSION}"):
        return
    with tempfile.TemporaryDirectory(prefix="engine-speed-ncci-") as tmp:
        ptp, mue = Path(tmp) / "ccipra-synthetic.txt", Path(tmp) / "MCR_MUE_PractitionerServices_synthetic.csv"
        log(f"generating the synthetic NCCI quarter: {NCCI_PTP_ROWS:,} PTP rows, {NCCI_MUE_CODES:,} MUE codes")
        write_synthetic_ptp(ptp, NCCI_PTP_ROWS, seed=1)
        write_synthetic_mue(mue, NcciSetting.PRACTITIONER, NCCI_MUE_CODES, seed=1)
        for source, path in (("ncci_ptp", ptp), ("ncci_mue", mue)):
            if not _visible(driver, settings.neo4j_database, f"{source}@{NCCI_VERSION}"):
                t0 = time.perf_counter()
                load_source(driver, settings, source, [path], NCCI_VERSION)
                log(f"  {source}@{NCCI_VERSION}: {time.perf_counter() - t0:.0f} s")


def ensure_data(driver: Driver, settings: Settings, need: Need, log: Log = print) -> None:
    """Schema, then each release the selected rows read, loaded only when it is not visible yet."""
    apply_schema(driver, settings.neo4j_database)
    if need.icd10cm or need.ncci:  # claim edits validate diagnoses against ICD-10-CM
        _load_bundled(driver, settings, "icd10cm", "FY2026", log)
    if need.msdrg:
        _load_bundled(driver, settings, "msdrg", "FY2026", log)
    if need.ncci:
        _load_ncci(driver, settings, log)


def discard_bench_ncci(driver: Driver, settings: Settings, log: Log = print) -> None:
    """Remove the synthetic NCCI quarter (both tables) with the runs that loaded it."""
    records, _, _ = driver.execute_query(
        f"MATCH (r:{L.Release})-[:{R.PRODUCED_BY}]->(run:{L.LoadRun}) WHERE r.id IN $ids RETURN run.id AS run",
        ids=[f"ncci_ptp@{NCCI_VERSION}", f"ncci_mue@{NCCI_VERSION}"], database_=settings.neo4j_database)
    ledger = RunLedger(driver, settings.neo4j_database)
    for record in records:
        removed = ledger.discard_run(record["run"])
        ledger.finish(record["run"], "discarded", removed, error="benchmark release removed")
        log(f"discarded {record['run']}: {removed}")


def billable_codes(driver: Driver, database: str) -> list[str]:
    """Every billable ICD-10-CM FY2026 code, from the graph (what a coding engine would look up)."""
    records, _, _ = driver.execute_query(
        f"{with_scope()} {members('scope', 'c', 'm', label=L.ICD10CMCode)} AND m.billable "
        "RETURN c.code AS code ORDER BY code", release=ICD10CM_RELEASE, database_=database)
    return [r["code"] for r in records]


def claim_bodies(driver: Driver, database: str, n: int, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` claims of 10 lines and 15 diagnoses: each a column-1 code in force on the date of service with nine
    of its column-2 partners, every third line with modifier 59, so a claim fires many PTP edits (as
    bench.ncci_claim_edits builds it); ``n`` different column-1 codes, so no answer is the same twice in a row."""
    records, _, _ = driver.execute_query(
        f"MATCH (rel:{L.Release} {{id: $release}}) WITH {ptp_ranges.SCOPE} AS scope "
        f"MATCH (a:{L.Code})-[e:{R.BUNDLES}]->(b:{L.Code}) WHERE {ptp_ranges.valid_in('e', 'scope')} "
        "AND e.setting = 'practitioner' AND e.effective <= $dos AND (e.deletion IS NULL OR $dos <= e.deletion) "
        "WITH a, collect(DISTINCT b.code) AS partners WHERE size(partners) >= 9 "
        "RETURN a.code AS column1, partners ORDER BY column1 LIMIT $n",
        release=f"ncci_ptp@{NCCI_VERSION}", dos=CLAIM_DOS, n=n, database_=database)
    if not records:
        raise LookupError(f"no column-1 code with nine partners in force on {CLAIM_DOS} in ncci_ptp@{NCCI_VERSION}")
    rng = random.Random(seed)
    bodies = []
    for record in records:
        codes = [record["column1"], *rng.sample(sorted(record["partners"]), 9)]
        lines = [{"line_id": str(i + 1), "code": code, "modifiers": ["59"] if i % 3 == 2 else [],
                  "units": rng.choice((1, 1, 2, 3)), "date_of_service": CLAIM_DOS.isoformat(),
                  "setting": "practitioner"} for i, code in enumerate(codes)]
        bodies.append({"lines": lines, "diagnoses": [{"code": c, "sequence": i + 1}
                                                     for i, c in enumerate(CLAIM_DIAGNOSES)],
                       "patient": {"age": 67, "sex": "female"}})
    return bodies
