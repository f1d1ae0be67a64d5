"""The payment shift stored on each coding revision, and the DRG-shift audit that seeks it a page at a time.

Synthetic stays are grouped on the real FY2026 weights; some histories come in through the bulk coding loader and
some through ``POST /v1/encounters/{id}/coding`` (with a draft in between, which has no payment). The reference
for every stored shift is recomputed here in Python from the stored revision chains.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from demo_data.scenarios import DX
from demo_data.stays import generate_stay
from demo_data.synthetic_encounters import generate
from graph_service.services.named_queries import get_named_query
from loaders.coding.payment_deltas import backfill_payment_shifts
from loaders.registry import load_source
from ontology.vocabulary import L, R
from tests.conftest import wipe_graph
from tests.loaders.test_coding_bulk_load import load_msdrg_fy2026

SEED, STAYS, BULK = 13, 90, 60  # stays 1..60 coded by the bulk loader, the others through the API
URL = "/v1/audit/drg-shifts"
STORED = ("payment_delta", "payment_delta_abs", "before_assignment", "before_drg", "before_drg_weight",
          "before_payment")


@dataclass
class Shifts:
    client: TestClient
    auditor: dict[str, str]
    api_encounters: set[str]
    drafts_skipped: list[tuple[dict[str, Any], dict[str, Any]]]  # (first grouped version, amended after a draft)

    def page(self, **params: Any) -> dict[str, Any]:
        response = self.client.get(URL, params=params, headers=self.auditor)
        assert response.status_code == 200, response.text
        return response.json()

    def all_rows(self, **params: Any) -> tuple[list[dict[str, Any]], int]:
        """Every row, following ``next``; and how many pages it took."""
        rows, cursor, pages = [], None, 0
        while True:
            page = self.page(**params, **({"cursor": cursor} if cursor else {}))
            rows += page["rows"]
            pages += 1
            cursor = page["next"]
            if cursor is None:
                return rows, pages


def read(driver: Driver, settings: Settings, cypher: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(cypher, params, database_=settings.neo4j_database)
    return [r.data() for r in records]


@pytest.fixture(scope="module")
def shifts(driver: Driver, settings: Settings, client: TestClient, engine: dict[str, str],
           auditor: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shifts]:
    tmp = tmp_path_factory.mktemp("shifts")
    generate(tmp, encounters=STAYS, seed=SEED, shard_size=30)
    lines = [json.loads(x) for x in (tmp / "assignments.ndjson").read_text().splitlines()]
    bulk = tmp / "bulk.ndjson"
    bulk.write_text("".join(json.dumps(x) + "\n" for x in lines if int(x["encounter"][4:]) <= BULK))
    codes = tmp / "icd10cm-2026.txt"
    codes.write_text("".join(f"{d.code.replace('.', ''):<7} {d.title}\n" for d in DX.values()))

    wipe_graph(driver, settings.neo4j_database)
    load_msdrg_fy2026(driver, settings)
    load_source(driver, settings, "icd10cm", [codes], "FY2026")
    load_source(driver, settings, "fhir", [tmp / "fhir"], "shifts-1")
    load_source(driver, settings, "coding", [bulk], "shifts-1")

    api_encounters: set[str] = set()
    drafts_skipped = []
    for number in range(BULK + 1, STAYS + 1):
        stay = generate_stay(SEED, number, date(2025, 10, 1), 365)
        versions = [x["assignment"] for x in stay.assignments]
        if any(c.get("system", "icd10cm") != "icd10cm" for v in versions for c in v["codes"]):
            continue  # no ICD-10-PCS release is loaded: the API would refuse the procedure codes
        encounter = f"enc-{number:07d}"
        api_encounters.add(encounter)
        posted = []
        for k, body in enumerate(versions):
            if k == len(versions) - 1 and k > 0:  # a draft before the last revision: not grouped, skipped over
                draft = client.post(f"/v1/encounters/{encounter}/coding", headers=engine,
                                    json={**body, "status": "draft"})
                assert draft.status_code == 201, draft.text
            response = client.post(f"/v1/encounters/{encounter}/coding", headers=engine, json=body)
            assert response.status_code == 201, response.text
            posted.append(response.json())
        if len(posted) > 1:
            drafts_skipped.append((posted[-2], posted[-1]))
    assert len(api_encounters) >= 10 and drafts_skipped
    yield Shifts(client, auditor, api_encounters, drafts_skipped)
    wipe_graph(driver, settings.neo4j_database)


def recomputed_shifts(driver: Driver, settings: Settings) -> dict[str, dict[str, Any]]:
    """Per assignment: the stored values and the shift recomputed from its chain (None: no earlier grouped one)."""
    rows = read(driver, settings, f"""
        MATCH (e:{L.Encounter})-[:{R.HAS_ASSIGNMENT}]->(a:{L.CodingAssignment})
        OPTIONAL MATCH (a)-[:{R.SUPERSEDES}]->(prev:{L.CodingAssignment})
        RETURN a.id AS id, e.id AS encounter, a.expected_payment AS payment, a.drg AS drg,
               a.drg_weight AS weight, prev.id AS prev, a {{{', '.join('.' + p for p in STORED)}}} AS stored""")
    by_id = {r["id"]: r for r in rows}
    for r in rows:
        before = by_id.get(r["prev"]) if r["prev"] else None
        while before is not None and before["payment"] is None:
            before = by_id.get(before["prev"]) if before["prev"] else None
        delta = None if r["payment"] is None or before is None else r["payment"] - before["payment"]
        r["expected"] = None if delta is None or before is None else {
            "payment_delta": delta, "payment_delta_abs": abs(delta),
            "before_assignment": before["id"], "before_drg": before["drg"], "before_drg_weight": before["weight"],
            "before_payment": before["payment"]}
    return by_id


def assert_stored_equals_recomputed(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        if r["expected"] is None:
            assert all(v is None for v in r["stored"].values()), r
        else:
            assert r["stored"] == pytest.approx(r["expected"]), r


def test_bulk_loaded_revisions_store_the_shift_recomputed_from_their_chain(
        shifts: Shifts, driver: Driver, settings: Settings) -> None:
    rows = [r for r in recomputed_shifts(driver, settings).values() if r["encounter"] not in shifts.api_encounters]
    assert sum(r["expected"] is not None for r in rows) >= 20  # revisions of grouped versions
    assert_stored_equals_recomputed(rows)


def test_api_recorded_revisions_store_the_shift_recomputed_from_their_chain(
        shifts: Shifts, driver: Driver, settings: Settings) -> None:
    rows = [r for r in recomputed_shifts(driver, settings).values() if r["encounter"] in shifts.api_encounters]
    assert sum(r["expected"] is not None for r in rows) >= 5
    assert any(r["expected"] and r["expected"]["payment_delta"] != 0 for r in rows)
    assert_stored_equals_recomputed(rows)


def test_a_revision_after_a_draft_shifts_against_the_last_grouped_version(
        shifts: Shifts, driver: Driver, settings: Settings) -> None:
    for grouped, amended in shifts.drafts_skipped:
        (stored,) = read(driver, settings, f"MATCH (a:{L.CodingAssignment} {{id: $id}}) "
                                           "RETURN a.before_assignment AS before, a.payment_delta AS delta",
                         id=amended["id"])
        assert amended["version"] == grouped["version"] + 2  # the draft in between
        assert stored["before"] == grouped["id"]
        assert stored["delta"] == pytest.approx(amended["drg"]["expected_payment"] - grouped["drg"]["expected_payment"])


def test_the_audit_lists_exactly_the_revisions_whose_recomputed_shift_exceeds_the_threshold(
        shifts: Shifts, driver: Driver, settings: Settings) -> None:
    recomputed = recomputed_shifts(driver, settings).values()
    for min_delta in (0, 1000, 2500):
        expected = {r["id"] for r in recomputed if r["expected"] and r["expected"]["payment_delta_abs"] > min_delta}
        rows, _ = shifts.all_rows(min_delta=min_delta, limit=1000)
        assert [r["after_assignment"] for r in rows if r["after_assignment"]] and \
            {r["after_assignment"] for r in rows} == expected


def test_keyset_pages_return_every_row_exactly_once_in_shift_order(shifts: Shifts) -> None:
    whole = shifts.page(min_delta=0, limit=1000)
    assert whole["next"] is None
    ids = [r["after_assignment"] for r in whole["rows"]]
    keys = [(-abs(r["payment_delta"]), r["after_assignment"]) for r in whole["rows"]]
    assert keys == sorted(keys) and len(set(ids)) == len(ids) > 20
    assert len({k[0] for k in keys}) < len(keys)  # equal shifts exist, so the tie order is exercised
    for size in (1, 3, 7):
        rows, pages = shifts.all_rows(min_delta=0, limit=size)
        assert [r["after_assignment"] for r in rows] == ids
        assert pages == len(ids) // size + 1  # the last page is short (or empty) and has no next


def test_filtered_pages_follow_the_same_order(shifts: Shifts) -> None:
    whole = shifts.page(min_delta=0, limit=1000)["rows"]
    coder = whole[0]["coder"]
    rows, _ = shifts.all_rows(min_delta=0, limit=2, coder=coder)
    assert [r["after_assignment"] for r in rows] == [r["after_assignment"] for r in whole if r["coder"] == coder]


def test_each_row_keeps_the_codes_added_and_removed_with_their_evidence(shifts: Shifts) -> None:
    rows = shifts.page(min_delta=0, limit=1000)["rows"]
    changed = [r for r in rows if r["added"] or r["removed"]]
    assert changed
    supported = [c for r in changed for c in r["added"] if c["evidence"]]
    assert supported and all(e["evidence"].split("#")[0].split("/")[0] in ("Condition", "Observation", "Procedure")
                             for c in supported for e in c["evidence"])
    for r in rows:
        assert r["payment_delta"] == pytest.approx(r["after_payment"] - r["before_payment"], abs=0.01)


def test_a_cursor_the_endpoint_did_not_return_and_an_oversized_page_are_refused(shifts: Shifts) -> None:
    # Of the published cursor shape (base64url) but not one this endpoint returned: no such page.
    bad = shifts.client.get(URL, params={"cursor": "not-a-cursor"}, headers=shifts.auditor)
    assert bad.status_code == 404 and bad.headers["content-type"].startswith("application/problem+json")
    assert "not one this endpoint returned" in bad.json()["detail"]
    # Not of that shape: refused by the schema's pattern.
    assert shifts.client.get(URL, params={"cursor": "a cursor?"}, headers=shifts.auditor).status_code == 422
    assert shifts.client.get(URL, params={"limit": 1001}, headers=shifts.auditor).status_code == 422
    assert shifts.client.get(URL, params={"limit": 0}, headers=shifts.auditor).status_code == 422


def test_the_named_query_runs_as_is_with_its_defaults_and_seeks_the_index(
        shifts: Shifts, driver: Driver, settings: Settings) -> None:
    query = get_named_query("drg_shifts")
    params = query.bind({"min_delta": 0.0})
    cypher = query.cypher.rstrip().rstrip(";")
    records, summary, _ = driver.execute_query("PROFILE " + cypher, params, database_=settings.neo4j_database)
    first_page = shifts.page(min_delta=0)["rows"]
    assert [r["after_assignment"] for r in records] == [r["after_assignment"] for r in first_page]
    operators = []

    def walk(plan: Any) -> None:
        operators.append((plan["operatorType"], str(plan.get("args", {}).get("Details", ""))))
        for child in plan.get("children", []):
            walk(child)

    walk(summary.profile)
    assert any("IndexSeekByRange" in op and "payment_delta_abs" in details for op, details in operators), operators
    assert not any(op.startswith("NodeByLabelScan") for op, _ in operators)


def test_the_backfill_migrates_a_graph_recorded_before_shifts_were_stored(
        shifts: Shifts, driver: Driver, settings: Settings) -> None:
    before, _ = shifts.all_rows(min_delta=0, limit=1000)
    revisions = sum(r["expected"] is not None for r in recomputed_shifts(driver, settings).values())
    assert revisions >= len(before)  # with the revisions that left the payment as it was (no shift)
    read(driver, settings, f"MATCH (a:{L.CodingAssignment}) REMOVE " + ", ".join(f"a.{p}" for p in STORED))
    assert shifts.page(min_delta=0)["rows"] == []  # an old graph: nothing to seek
    assert backfill_payment_shifts(driver, settings.neo4j_database, slice_rows=7) == revisions
    after, _ = shifts.all_rows(min_delta=0, limit=1000)
    assert after == before
    assert backfill_payment_shifts(driver, settings.neo4j_database) == 0
    assert_stored_equals_recomputed(list(recomputed_shifts(driver, settings).values()))


def test_the_schema_step_runs_the_backfill(shifts: Shifts, driver: Driver, settings: Settings,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from codegraph import cli

    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    read(driver, settings, f"MATCH (a:{L.CodingAssignment}) REMOVE a.payment_delta, a.payment_delta_abs")
    result = CliRunner().invoke(cli.app, ["schema", "apply"])
    assert result.exit_code == 0, result.output
    assert "payment shifts backfilled" in result.output
    rows, _ = shifts.all_rows(min_delta=0, limit=1000)
    assert rows and {r["after_assignment"] for r in rows} == {
        r["id"] for r in recomputed_shifts(driver, settings).values()
        if r["expected"] and r["expected"]["payment_delta_abs"] > 0}

