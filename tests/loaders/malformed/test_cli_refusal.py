"""The command line says a refusal in one unwrapped line when stderr is a log, not a terminal: the file path,
line and field stay together for grep and editors (rich wrapped them at 80 columns before)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from neo4j import Driver

from codegraph.settings import Settings
from tests.conftest import wipe_graph
from tests.loaders.malformed.corpus import load_cases
from tests.loaders.malformed.fingerprint import graph_fingerprint

REPO = Path(__file__).resolve().parents[3]


def test_a_refusal_on_the_command_line_is_one_unwrapped_line(driver: Driver, settings: Settings,
                                                             tmp_path: Path) -> None:
    cases = next(c for c in load_cases() if c.format == "icd10pcs")
    variant = next(v for v in cases.variants if v.name == "code_twice_with_two_titles")
    deep = tmp_path / ("a-folder-name-long-enough-to-pass-eighty-columns-" * 2)
    paths = cases.assemble(variant, deep)
    before = graph_fingerprint(driver, settings.neo4j_database)
    env = {**os.environ, "NEO4J_URI": settings.bolt_uri, "NEO4J_USER": settings.neo4j_user,
           "NEO4J_PASSWORD": settings.resolved_password(), "NEO4J_DATABASE": settings.neo4j_database,
           "COLUMNS": "80"}
    done = subprocess.run([sys.executable, "-m", "codegraph.cli", "load", "icd10pcs", *map(str, paths),
                           "--release", "FY2031"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    error = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1, done.stderr
    assert f"{paths[0]}:4: field 'title'" in error[0] and "duplicate code 0016071" in error[0]
    assert graph_fingerprint(driver, settings.neo4j_database) == before


def test_the_command_line_report_counts_the_identical_repeats_it_folded(driver: Driver, settings: Settings,
                                                                         tmp_path: Path) -> None:
    cases = next(c for c in load_cases() if c.format == "icd10pcs")
    variant = next(v for v in cases.variants if v.name == "code_twice_identical")
    paths = cases.assemble(variant, tmp_path)
    wipe_graph(driver, settings.neo4j_database)  # the same files again would be a no-op
    env = {**os.environ, "NEO4J_URI": settings.bolt_uri, "NEO4J_USER": settings.neo4j_user,
           "NEO4J_PASSWORD": settings.resolved_password(), "NEO4J_DATABASE": settings.neo4j_database,
           "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "codegraph.cli", "load", "icd10pcs", *map(str, paths),
                           "--release", "FY2032"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line for line in (done.stdout + done.stderr).splitlines() if "identical repeats folded" in line]
    assert len(rows) == 1, done.stdout + done.stderr
    row = rows[0]
    assert "(icd10pcs_order_2026.txt: code)" in row and row.rstrip(" │|").split()[-1] == "1", row
    assert "duplicate code 0016071 (same as line 3) folded" in done.stdout + done.stderr  # the warning, located
