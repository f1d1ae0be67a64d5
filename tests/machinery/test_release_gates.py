"""What stands between a maintainer's files and a visible release: the schema, a file cut short, a diff that
deletes or retitles too much, the very same files again, codes expanded into subcodes — and Ctrl-C.

The code lists are real FY2025 ICD-10-CM codes and titles (the ``drg`` package's CMS list), written in the CMS
codes-file layout, and every load goes through the real `codegraph load` path (the CLI in a subprocess where the
terminal behaviour is the point)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from loaders.bundled import package_file
from loaders.icd10cm.code_lists import read_code_list
from loaders.machinery.gates import PromotionGates, ReleaseHeldError
from loaders.machinery.release_diff import diff_releases
from loaders.registry import load_source
from ontology.schema import apply_schema, missing_schema
from ontology.vocabulary import L, R
from tests.conftest import graph_counts

REPO = Path(__file__).resolve().parents[2]
FY2025_LIST = package_file("drg", "data", "cms", "icd_10_cm.csv")
CODES = [(c.code, c.title or "") for c in read_code_list(FY2025_LIST)]


def codes_file(path: Path, codes: list[tuple[str, str]]) -> Path:
    """The CMS ``icd10cm-codes`` layout: the dotless code padded to 7, a space, the long title."""
    path.write_text("".join(f"{code.replace('.', ''):<7} {title}\n" for code, title in codes))
    return path


def order_file(path: Path, rows: list[tuple[str, bool, str]]) -> Path:
    """The CMS ``icd10cm-order`` layout: order number, code, billable flag, short title (60), long title."""
    path.write_text("".join(f"{n:05d} {code.replace('.', ''):<7} {int(billable)} {title[:60]:<60} {title}\n"
                            for n, (code, billable, title) in enumerate(rows, start=1)))
    return path


def cli_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "NEO4J_URI": settings.bolt_uri, "NEO4J_USER": settings.neo4j_user,
            "NEO4J_PASSWORD": settings.resolved_password(), "NEO4J_DATABASE": settings.neo4j_database,
            "COLUMNS": "1000"}  # rich wraps messages at the terminal width


def codegraph(settings: Settings, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codegraph.cli", *args], cwd=REPO, env=cli_env(settings),
                          capture_output=True, text=True, timeout=timeout)


def read(driver: Driver, settings: Settings, cypher: str, **params: object) -> list[dict]:
    records, _, _ = driver.execute_query(cypher, params, database_=settings.neo4j_database)
    return [r.data() for r in records]


def releases(driver: Driver, settings: Settings) -> dict[str, str]:
    return {r["id"]: r["status"] for r in read(driver, settings, f"MATCH (r:{L.Release}) RETURN r.id AS id, "
                                                                  "r.status AS status")}


# ---- schema before load ---------------------------------------------------------------------------------
def test_a_load_on_a_database_without_the_schema_applies_it_first(clean_graph: Driver, settings: Settings,
                                                                   tmp_path: Path) -> None:
    db = settings.neo4j_database
    try:
        for show, drop in (("SHOW CONSTRAINTS YIELD name", "DROP CONSTRAINT"),
                           ("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP'", "DROP INDEX")):
            for row in read(clean_graph, settings, show):
                clean_graph.execute_query(f"{drop} `{row['name']}`", database_=db)
        assert missing_schema(clean_graph, db)  # a fresh database, as a new maintainer's

        done = codegraph(settings, "load", "icd10cm", str(codes_file(tmp_path / "c.txt", CODES[:50])),
                         "--release", "FY2025")
        assert done.returncode == 0, done.stderr
        assert "applying them before the load" in done.stderr
        assert missing_schema(clean_graph, db) == []
        assert releases(clean_graph, settings) == {"icd10cm@FY2025": "visible"}
    finally:
        apply_schema(clean_graph, db)  # the session's other tests rely on it


# ---- a file cut mid-line -------------------------------------------------------------------------------
def test_a_code_list_cut_mid_line_is_refused_with_its_location(clean_graph: Driver, settings: Settings,
                                                               tmp_path: Path) -> None:
    path = codes_file(tmp_path / "icd10cm-codes-2025.txt", CODES[:120])
    whole = path.read_bytes()
    path.write_bytes(whole[: whole.rindex(b"\n", 0, len(whole) - 1) + 1 + 17])  # the last record cut after 17 bytes
    done = codegraph(settings, "load", "icd10cm", str(path), "--release", "FY2025")
    assert done.returncode == 1
    assert f"{path}:120: field 'line ending'" in done.stderr and "cut short mid-line" in done.stderr
    assert "Traceback" not in done.stderr
    assert releases(clean_graph, settings) == {}  # nothing of it is in the graph


# ---- the diff gates ------------------------------------------------------------------------------------
@pytest.fixture
def fy2025(clean_graph: Driver, settings: Settings, tmp_path: Path) -> list[tuple[str, str]]:
    codes = CODES[:400]
    load_source(clean_graph, settings, "icd10cm", [codes_file(tmp_path / "fy2025.txt", codes)], "FY2025")
    return codes


def test_a_release_deleting_too_many_codes_is_staged_reported_and_not_promoted(
    fy2025: list[tuple[str, str]], driver: Driver, settings: Settings, tmp_path: Path
) -> None:
    cut = codes_file(tmp_path / "fy2026.txt", fy2025[:300])  # cut at a line boundary: every line parses
    before = graph_counts(driver, settings.neo4j_database)
    with pytest.raises(ReleaseHeldError) as held:
        load_source(driver, settings, "icd10cm", [cut], "FY2026")
    assert "it deletes 100 of the 400 codes of icd10cm@FY2025 (25.0%; at most 5.0% is allowed)" in str(held.value)
    report = held.value.report
    assert (report.status, report.report["diff"]["deleted"], report.report["gates"]["verdict"]) == (
        "held", 100, "held")
    assert releases(driver, settings) == {"icd10cm@FY2025": "visible"}
    runs = read(driver, settings, f"MATCH (r:{L.LoadRun} {{release: 'icd10cm@FY2026'}}) RETURN r.status AS s")
    assert runs == [{"s": "held"}]
    assert graph_counts(driver, settings.neo4j_database) == (before[0] + 1, before[1])  # only the run's record

    forced = load_source(driver, settings, "icd10cm", [cut], "FY2026", gates=PromotionGates(force=True))
    assert (forced.status, forced.report["gates"]["verdict"]) == ("completed", "forced")
    assert releases(driver, settings)["icd10cm@FY2026"] == "visible"


def test_a_release_retitling_an_implausible_share_of_codes_is_held(
    fy2025: list[tuple[str, str]], driver: Driver, settings: Settings, tmp_path: Path
) -> None:
    retitled = [(code, f"{title}, wrong column" if n % 5 == 0 else title) for n, (code, title) in enumerate(fy2025)]
    with pytest.raises(ReleaseHeldError, match=r"changes the titles of 80 of the 400 codes .*20\.0%"):
        load_source(driver, settings, "icd10cm", [codes_file(tmp_path / "fy2026.txt", retitled)], "FY2026")
    assert releases(driver, settings) == {"icd10cm@FY2025": "visible"}
    # A real year's changes pass: a few codes deleted, added and retitled.
    real = [(c, f"{t} (revised)" if n == 7 else t) for n, (c, t) in enumerate(fy2025[:-3])] + CODES[400:410]
    report = load_source(driver, settings, "icd10cm", [codes_file(tmp_path / "fy2026b.txt", real)], "FY2026")
    assert (report.status, report.report["gates"]["verdict"]) == ("completed", "passed")


# ---- the very same files again -------------------------------------------------------------------------
def test_loading_the_very_same_files_again_is_an_immediate_no_op(clean_graph: Driver, settings: Settings,
                                                                 tmp_path: Path) -> None:
    path = codes_file(tmp_path / "icd10cm-codes-2025.txt", CODES[:3000])
    first = load_source(clean_graph, settings, "icd10cm", [path], "FY2025")
    before = graph_counts(clean_graph, settings.neo4j_database)
    copy = tmp_path / "copy-under-another-name.txt"
    copy.write_bytes(path.read_bytes())
    t0 = time.perf_counter()
    again = load_source(clean_graph, settings, "icd10cm", [copy], "FY2025")
    assert time.perf_counter() - t0 < first.seconds
    assert (again.status, again.run_id) == ("unchanged", first.run_id)
    assert graph_counts(clean_graph, settings.neo4j_database) == before  # not even a new LoadRun


# ---- a diff a maintainer can act on -------------------------------------------------------------------
def test_a_code_expanded_into_subcodes_is_reported_as_expanded_and_linked_to_them(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    base = CODES[:150]
    older = codes_file(tmp_path / "fy2025.txt", [*base, ("B88.0", "Other acariasis"), ("B88.1", "Tungiasis")])
    load_source(clean_graph, settings, "icd10cm", [older], "FY2025")
    # FY2026: B88.0 stays, as the header of its new subcodes; A00.0's title is revised.
    rows = [(code, True, "Cholera due to Vibrio cholerae 01, biovar cholerae (revised)" if code == "A00.0" else title)
            for code, title in base]
    rows += [("B88.0", False, "Other acariasis"), ("B88.01", True, "Infestation by Demodex mites"),
             ("B88.09", True, "Other acariasis"), ("B88.1", True, "Tungiasis")]
    report = load_source(clean_graph, settings, "icd10cm", [order_file(tmp_path / "fy2026.txt", rows)], "FY2026")

    diff = diff_releases(clean_graph, settings.neo4j_database, "icd10cm", "icd10cm@FY2025", "icd10cm@FY2026")
    assert diff.expanded == {"B88.0": ["B88.01", "B88.09"]}
    assert (diff.deleted, diff.made_non_billable) == ([], [])
    assert [(t.code, t.old_title, t.new_title) for t in diff.title_revised] == [
        ("A00.0", "Cholera due to Vibrio cholerae 01, biovar cholerae",
         "Cholera due to Vibrio cholerae 01, biovar cholerae (revised)")]
    assert report.report["diff"]["expanded"] == 1
    assert report.report["diff"]["examples"]["expanded"] == {"B88.0": ["B88.01", "B88.09"]}
    assert report.report["diff"]["examples"]["title_revised"][0]["old_title"].endswith("biovar cholerae")
    links = read(clean_graph, settings, f"""
        MATCH (:{L.Code} {{key: 'icd10cm|B88.0'}})-[r:{R.REPLACED_BY}]->(n:{L.Code})
        RETURN n.code AS code, r.release AS release, r.from_release AS from ORDER BY code""")
    assert links == [{"code": "B88.01", "release": "icd10cm@FY2026", "from": "icd10cm@FY2025"},
                     {"code": "B88.09", "release": "icd10cm@FY2026", "from": "icd10cm@FY2025"}]


# ---- Ctrl-C --------------------------------------------------------------------------------------------
def _ctrl_c_as_in_a_terminal() -> None:
    """A foreground command in a terminal gets SIGINT's default action, so Python turns it into KeyboardInterrupt.
    A test session started in the background (``nohup … &`` from a script, as CI may be) inherits SIGINT
    *ignored*, and so would the load, which then never sees the Ctrl-C this test sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_a_load_within_seconds_and_leaves_the_graph_as_it_was(
    clean_graph: Driver, settings: Settings
) -> None:
    before = graph_counts(clean_graph, settings.neo4j_database)
    proc = subprocess.Popen(
        [sys.executable, "-m", "codegraph.cli", "load", "icd10cm", str(FY2025_LIST), "--release", "FY2025",
         "--batch-size", "50"], cwd=REPO, env=cli_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=_ctrl_c_as_in_a_terminal)
    try:
        deadline = time.monotonic() + 300
        # the release staged for this run: the load is inside its clean-up scope and now parses and writes
        # for many seconds (waiting for its first membership raced the end of the load on a quiet machine)
        while not read(clean_graph, settings, f"MATCH (:{L.Release})-[p:{R.PRODUCED_BY}]->(:{L.LoadRun}) RETURN p"):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the load wrote nothing in 5 minutes"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
        t0 = time.monotonic()
        _, stderr = proc.communicate(timeout=60)
        stopped_in = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert stopped_in < 30, stopped_in  # generous: the shared test machine runs at a load average of ~25
    assert "interrupted" in stderr and "Traceback" not in stderr and len(stderr.splitlines()) < 10, stderr
    runs = read(clean_graph, settings, f"MATCH (r:{L.LoadRun}) RETURN r.status AS status, r.error AS error")
    assert runs == [{"status": "interrupted", "error": "interrupted (Ctrl-C)"}]
    assert graph_counts(clean_graph, settings.neo4j_database) == (before[0] + 1, before[1])  # the run's record


# ---- retract from the command line ---------------------------------------------------------------------
def test_release_retract_on_the_command_line_frees_the_id_for_corrected_files(
    fy2025: list[tuple[str, str]], driver: Driver, settings: Settings, tmp_path: Path
) -> None:
    other = codes_file(tmp_path / "fy2025-corrected.txt", fy2025[:399] + CODES[400:401])
    refused = codegraph(settings, "load", "icd10cm", str(other), "--release", "FY2025")
    assert refused.returncode == 1 and "codegraph release retract icd10cm FY2025" in refused.stderr

    done = codegraph(settings, "release", "retract", "icd10cm", "fy2025", "--reason", "wrong file")
    assert done.returncode == 0, done.stderr
    assert '"id": "icd10cm@FY2025"' in done.stdout and '"reason": "wrong file"' in done.stdout
    assert releases(driver, settings) == {"icd10cm@FY2025": "retracted"}
    listed = codegraph(settings, "release", "list", "icd10cm", "--retracted")
    assert '"status": "retracted"' in listed.stdout
    assert codegraph(settings, "release", "list", "icd10cm").stdout.strip() == "[]"

    reloaded = codegraph(settings, "load", "icd10cm", str(other), "--release", "FY2025")
    assert reloaded.returncode == 0, reloaded.stderr
    states = releases(driver, settings)
    assert states.pop("icd10cm@FY2025") == "visible"
    assert list(states.values()) == ["retracted"] and next(iter(states)).startswith("icd10cm@FY2025#retracted-")
