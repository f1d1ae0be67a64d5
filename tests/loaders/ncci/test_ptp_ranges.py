"""NCCI PTP edits stored once over a range of quarters: a new quarter writes only its differences, and every reader
of every quarter — the service's in-memory table, the claim edits over HTTP, the graph query the service falls back
to — sees exactly that quarter's file, through staging, discard, retraction, archive and back-fill (real Neo4j)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from graph_service.reference.ncci_tables import build_ptp_table
from graph_service.services.claim_edits import CLAIM_FACTS
from loaders.errors import LoadError
from loaders.machinery import lifecycle
from loaders.machinery.pipeline import LoadContext, run_load
from loaders.machinery.runs import ReleaseSpec
from loaders.ncci import ptp_ranges
from loaders.ncci.load import NcciPtpLoader, ptp_row
from loaders.ncci.ptp import read_ptp
from loaders.registry import load_source
from ontology.vocabulary import R
from tests.graph_service.conftest import api_keys, client, engine  # noqa: F401  (the API through its client)
from tests.loaders.malformed.fingerprint import graph_fingerprint

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ncci"
PTP_FILES = sorted(FIXTURES.glob("cci*.txt"))
MUE_FILES = sorted(FIXTURES.glob("MCR_MUE_*.csv"))
Q1, Q2 = "ncci_ptp@2026Q1", "ncci_ptp@2026Q2"
Q1_DAY, Q2_DAY, Q4_DAY = "2026-02-10", "2026-05-12", "2025-11-04"
DROPPED = b"43239\t43235"  # in Q1, not in Q2
CHANGED = (b"27447\t20610\t\t20040101\t*\t1\t", b"27447\t20610\t\t20040101\t*\t0\t")  # indicator 1 → 0 in Q2
ADDED = (b"11042\t20610\t\t20260401\t*\t1\tMutually exclusive procedures",  # a pair of known codes
         b"99213\t0042T\t\t20260401\t*\t0\tMisuse of column two code with column one code")  # and a new code
# A claim touching each kind of change: 27447 + 20610 with 59, 43239 + 43235, 11042, 99213 + 0042T.
CLAIM_CODES = (("1", "27447", []), ("2", "20610", ["59"]), ("3", "43239", []), ("4", "43235", []),
               ("5", "11042", []), ("6", "99213", []), ("7", "0042T", []))


def _variant(directory: Path, edit: Callable[[str, list[bytes]], list[bytes]]) -> list[Path]:
    directory.mkdir()
    for path in PTP_FILES:
        lines = path.read_bytes().split(b"\r\n")
        (directory / path.name).write_bytes(b"\r\n".join(edit(path.name, lines)))
    return sorted(directory.iterdir())


def _q2_files(tmp_path: Path, name: str = "q2") -> list[Path]:
    def edit(file: str, lines: list[bytes]) -> list[bytes]:
        out = [line.replace(*CHANGED) for line in lines if not line.startswith(DROPPED)]
        assert out != lines or "f1" not in file
        return out + list(ADDED) if "f1" in file else out
    return _variant(tmp_path / name, edit)


def _expected(paths: list[Path]) -> set[tuple[Any, ...]]:
    """A file's edits as (column 1, column 2, setting, effective, deletion, indicator, rationale, prior 1996)."""
    rows = (ptp_row(edit) for path in paths for edit in read_ptp(path))
    return {(*ptp_ranges.row_identity(r), *ptp_ranges.row_values(r)) for r in rows}


def _table(driver: Driver, settings: Settings, release: str) -> set[tuple[Any, ...]]:
    """The release's PTP edits as the service holds them in memory (graph_service.reference.ncci_tables)."""
    table = build_ptp_table(driver, settings.neo4j_database, release)
    out = set()
    for (column1, column2), edits in table.edits.items():
        for e in edits:
            out.add((column1, column2, e.setting, e.effective.isoformat(),
                     e.deletion.isoformat() if e.deletion else None, e.modifier_indicator, e.rationale, e.prior_1996))
    assert len(out) == sum(len(edits) for edits in table.edits.values())  # no edit twice
    return out


def _claim(client: TestClient, engine: dict[str, str], day: str) -> tuple[list[tuple[Any, ...]], str | None]:  # noqa: F811
    lines = [{"line_id": i, "code": code, "modifiers": mods, "units": 1, "date_of_service": day,
              "setting": "practitioner"} for i, code, mods in CLAIM_CODES]
    r = client.post("/v1/edits/claim", json={"lines": lines}, headers=engine)
    assert r.status_code == 200, r.text
    body = r.json()
    conflicts = sorted((c["column1"]["code"], c["column2"]["code"], c["modifier_indicator"], c["outcome"])
                       for c in body["ptp_conflicts"])
    return conflicts, body["releases"][0]["ncci_ptp"]


def _graph_facts(driver: Driver, settings: Settings, release: str, day: str) -> list[tuple[str, str, int]]:
    """The claim's PTP edits from the graph query the service uses while a quarter's table is being built."""
    keys = [f"cpt|{code}" for _, code, _ in CLAIM_CODES]
    group = {"id": 0, "keys": keys, "release": release, "setting": "practitioner", "dos": date.fromisoformat(day)}
    records, _, _ = driver.execute_query(CLAIM_FACTS, keys=keys, groups=[group], mue_keys=[],
                                         database_=settings.neo4j_database)
    return sorted((p["column1"], p["column2"], p["edit"]["modifier_indicator"]) for p in records[0]["ptp"])


Q1_CONFLICTS = [("27447", "20610", 1, "bypassed"), ("43239", "43235", 0, "denied")]
Q2_CONFLICTS = [("11042", "20610", 1, "bypassed"), ("27447", "20610", 0, "denied"), ("99213", "0042T", 0, "denied")]


def _bundles(driver: Driver, settings: Settings) -> int:
    records, _, _ = driver.execute_query(f"MATCH ()-[e:{R.BUNDLES}]->() RETURN count(e) AS n",
                                         database_=settings.neo4j_database)
    return records[0]["n"]


@pytest.fixture
def q1(clean_graph: Driver, settings: Settings) -> Iterator[Driver]:
    load_source(clean_graph, settings, "ncci_ptp", PTP_FILES, "2026Q1")
    for version in ("2025Q4", "2026Q1", "2026Q2"):  # MUEs in force on every date the claims use
        load_source(clean_graph, settings, "ncci_mue", MUE_FILES, version)
    yield clean_graph


def _assert_q1_served(driver: Driver, settings: Settings, client: TestClient, engine: dict[str, str]) -> None:  # noqa: F811
    assert _table(driver, settings, Q1) == _expected(PTP_FILES)
    assert _claim(client, engine, Q1_DAY) == (Q1_CONFLICTS, Q1)
    assert _graph_facts(driver, settings, Q1, Q1_DAY) == [("cpt|27447", "cpt|20610", 1), ("cpt|43239", "cpt|43235", 0)]


def test_the_next_quarter_writes_only_its_differences_and_each_quarter_answers_its_own(
    q1: Driver, settings: Settings, client: TestClient, engine: dict[str, str], tmp_path: Path  # noqa: F811
) -> None:
    _assert_q1_served(q1, settings, client, engine)
    before = _bundles(q1, settings)
    files = _q2_files(tmp_path)
    report = load_source(q1, settings, "ncci_ptp", files, "2026Q2")
    counts = report.counts
    assert (counts["ptp_layout"], counts["ptp_previous"]) == ("diff", Q1)
    assert (counts["ptp_added"], counts["ptp_changed"], counts["ptp_dropped"]) == (2, 1, 1)
    assert (counts["ptp_written"], counts["ptp_closed"]) == (3, 2)  # the changed edit is closed and written anew
    assert counts["ptp_unchanged"] == len(_expected(PTP_FILES)) - 2
    assert _bundles(q1, settings) == before + 3  # 3 relationships created for the whole quarter
    assert _table(q1, settings, Q2) == _expected(files)
    _assert_q1_served(q1, settings, client, engine)
    assert _claim(client, engine, Q2_DAY) == (Q2_CONFLICTS, Q2)
    assert _graph_facts(q1, settings, Q2, Q2_DAY) == [
        ("cpt|11042", "cpt|20610", 1), ("cpt|27447", "cpt|20610", 0), ("cpt|99213", "cpt|0042T", 0)]
    # The same files again: nothing to do.
    assert load_source(q1, settings, "ncci_ptp", files, "2026Q2").status == "unchanged"


def test_a_staged_quarter_is_invisible_and_discarding_it_leaves_the_graph_as_it_was(
    q1: Driver, settings: Settings, client: TestClient, engine: dict[str, str], tmp_path: Path  # noqa: F811
) -> None:
    fingerprint = graph_fingerprint(q1, settings.neo4j_database)
    seen: dict[str, Any] = {}

    def while_staged(driver: Driver, database: str, ctx: LoadContext) -> dict[str, Any]:
        # Q2 is staged: the until it put on Q1's dropped and changed edits hides nothing from Q1's readers.
        seen["closed"] = ctx.counts["ptp_closed"]
        _assert_q1_served(driver, settings, client, engine)
        return {}

    report = run_load(q1, settings.neo4j_database, NcciPtpLoader(), _q2_files(tmp_path),
                      ReleaseSpec.parse("ncci_ptp", "2026Q2"), dry_run=True, after_staging=while_staged)
    assert report.status == "dry_run" and seen["closed"] == 2
    assert graph_fingerprint(q1, settings.neo4j_database) == fingerprint  # re-opened, new edges gone
    _assert_q1_served(q1, settings, client, engine)


def test_a_quarter_failing_mid_write_is_discarded_whole(
    q1: Driver, settings: Settings, client: TestClient, engine: dict[str, str], tmp_path: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fingerprint = graph_fingerprint(q1, settings.neo4j_database)
    real_diff = ptp_ranges.diff

    def diff_with_a_bad_last_row(previous: Any, edits: Any, to_row: Any) -> ptp_ranges.PtpDiff:
        # The server refuses the last new edit (a date it cannot read): the closes and earlier batches are committed.
        out = real_diff(previous, edits, to_row)
        out.create.append({**out.create[0], "effective": "2026-13-45", "where": ("q2", 99)})
        return out

    monkeypatch.setattr(ptp_ranges, "diff", diff_with_a_bad_last_row)
    with pytest.raises(LoadError, match="q2:99"):
        load_source(q1, settings, "ncci_ptp", _q2_files(tmp_path), "2026Q2", batch_size=1)
    assert graph_fingerprint(q1, settings.neo4j_database) == fingerprint
    _assert_q1_served(q1, settings, client, engine)


def test_a_retracted_quarter_leaves_the_previous_one_served_and_its_corrected_files_load_after_archive(
    q1: Driver, settings: Settings, client: TestClient, engine: dict[str, str], tmp_path: Path  # noqa: F811
) -> None:
    wrong = _q2_files(tmp_path, "q2-wrong")
    load_source(q1, settings, "ncci_ptp", wrong, "2026Q2")
    lifecycle.retract(q1, settings.neo4j_database, Q2, reason="test")
    _assert_q1_served(q1, settings, client, engine)
    assert _claim(client, engine, Q2_DAY)[1] != Q2

    # Corrected Q2: the dropped edit comes back. The retracted Q2 is archived (its id renamed in the ranges).
    def corrected(file: str, lines: list[bytes]) -> list[bytes]:
        out = [line.replace(*CHANGED) for line in lines]
        return out + list(ADDED) if "f1" in file else out
    files = _variant(tmp_path / "q2-corrected", corrected)
    report = load_source(q1, settings, "ncci_ptp", files, "2026Q2")
    [archived] = [r["id"] for r in _releases(q1, settings) if r["id"].startswith(f"{Q2}#retracted-")]
    assert report.counts["ptp_layout"] == "diff" and report.counts["ptp_previous"] == archived
    assert _table(q1, settings, Q2) == _expected(files)
    assert _table(q1, settings, archived) == _expected(wrong)  # the retracted quarter, kept for audit
    _assert_q1_served(q1, settings, client, engine)
    conflicts, used = _claim(client, engine, Q2_DAY)
    assert used == Q2 and ("43239", "43235", 0, "denied") in conflicts


def _releases(driver: Driver, settings: Settings) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(
        "MATCH (r:Release {system: 'ncci_ptp'}) RETURN r.id AS id, r.ptp_layout AS layout, r.ptp_scope AS scope "
        "ORDER BY id", database_=settings.neo4j_database)
    return [r.data() for r in records]


def test_a_back_filled_older_quarter_answers_its_own_edits(
    q1: Driver, settings: Settings, client: TestClient, engine: dict[str, str], tmp_path: Path  # noqa: F811
) -> None:
    q2 = _q2_files(tmp_path)
    load_source(q1, settings, "ncci_ptp", q2, "2026Q2")
    # 2025Q4 lacks 27447/20610 (added in Q1 in this story) and has 45380/45378 with indicator 0.
    q4 = _variant(tmp_path / "q4", lambda _f, lines: [
        line.replace(b"45380\t45378\t*\t19960101\t*\t1", b"45380\t45378\t*\t19960101\t*\t0")
        for line in lines if not line.startswith(b"27447\t20610")])
    report = load_source(q1, settings, "ncci_ptp", q4, "2025Q4")
    assert report.counts["ptp_layout"] == "own" and report.counts["ptp_written"] == len(_expected(q4))
    assert _table(q1, settings, "ncci_ptp@2025Q4") == _expected(q4)
    assert _table(q1, settings, Q2) == _expected(q2)
    _assert_q1_served(q1, settings, client, engine)
    assert _claim(client, engine, Q4_DAY) == ([("43239", "43235", 0, "denied")], "ncci_ptp@2025Q4")
    assert _claim(client, engine, Q2_DAY) == (Q2_CONFLICTS, Q2)


def test_a_graph_loaded_with_one_copy_per_release_is_upgraded_by_the_next_load(
    q1: Driver, settings: Settings, client: TestClient, engine: dict[str, str], tmp_path: Path  # noqa: F811
) -> None:
    # The layout before ranges: each release's edges stamped with its id, no scope on the release.
    q1.execute_query("MATCH (r:Release {id: $id}) REMOVE r.ptp_layout, r.ptp_scope", id=Q1,
                     database_=settings.neo4j_database)
    _assert_q1_served(q1, settings, client, engine)
    files = _q2_files(tmp_path)
    report = load_source(q1, settings, "ncci_ptp", files, "2026Q2")
    assert (report.counts["ptp_layout"], report.counts["ptp_upgraded"], report.counts["ptp_written"]) == (
        "diff", Q1, 3)
    assert {r["id"]: r["scope"] for r in _releases(q1, settings)} == {Q1: [Q1], Q2: [Q1, Q2]}
    assert _table(q1, settings, Q2) == _expected(files)
    _assert_q1_served(q1, settings, client, engine)
