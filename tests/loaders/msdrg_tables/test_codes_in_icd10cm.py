"""The MS-DRG tables' codes are checked against the ICD-10-CM release in force when their fiscal year starts:
codes it does not list are counted in the run's report and named in a warning (not refused: the tables may be
loaded before the code set, or beside a later update of it)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from loaders.registry import load_source
from tests.conftest import wipe_graph
from tests.loaders.malformed.corpus import load_cases

TABULAR = Path(__file__).resolve().parents[2] / "fixtures" / "icd10cm" / "icd10cm-tabular-excerpt.xml"


def _msdrg_files(tmp: Path) -> list[Path]:
    cases = next(c for c in load_cases() if c.format == "msdrg")
    return cases.assemble(None, tmp)


def test_codes_absent_from_the_icd10cm_release_in_force_are_counted_and_named(
    driver: Driver, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wipe_graph(driver, settings.neo4j_database)
    load_source(driver, settings, "icd10cm", [TABULAR], "FY2026")  # lists A00.0 and A00.9 of the tables' codes
    with caplog.at_level(logging.WARNING, logger="loaders.msdrg"):
        report = load_source(driver, settings, "msdrg", _msdrg_files(tmp_path), "FY2026")
    assert report.status == "completed"
    assert report.counts["codes_not_in icd10cm@FY2026"] == 4
    [warning] = [r.getMessage() for r in caplog.records if "not in icd10cm@FY2026" in r.getMessage()]
    assert warning.endswith("A00.1, I46.2, I46.9, R57.0"), warning


def test_without_an_icd10cm_release_in_force_nothing_is_checked(driver: Driver, settings: Settings,
                                                                tmp_path: Path) -> None:
    wipe_graph(driver, settings.neo4j_database)
    load_source(driver, settings, "icd10cm", [TABULAR], "FY2024")  # in force a year before the tables' year
    report = load_source(driver, settings, "msdrg", _msdrg_files(tmp_path), "FY2026")
    assert report.status == "completed"
    assert not any(key.startswith("codes_not_in") for key in report.counts)
