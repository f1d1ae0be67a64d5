"""POST /v1/coverage on the fixture MCD articles, the two fictional payers and a small ICD-10-CM FY2026 release."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from tests.loaders.coverage.test_coverage_load import load_coverage_graph

AFTER_OCT_2025 = "2025-11-03"  # icd10cm@FY2026 (from 2025-10-01) is in force
BEFORE_OCT_2025 = "2025-03-01"  # no ICD-10-CM release in force: ancestors by code prefix


@pytest.fixture(scope="module", autouse=True)
def coverage_graph(driver: Driver, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Driver:
    load_coverage_graph(driver, settings, tmp_path_factory.mktemp("icd"))
    return driver


def ask(client: TestClient, headers: dict[str, str], status: int = 200, **body: Any) -> dict[str, Any]:
    r = client.post("/v1/coverage", json=body, headers=headers)
    assert r.status_code == status, r.text
    return r.json()


def one(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    answer = ask(client, headers, **body)
    assert len(answer["results"]) == 1
    return answer["results"][0]


def test_echo_with_heart_failure_is_covered_by_the_article_group(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    result = one(client, engine, payer="medicare", contractor="NY", procedures=["93306"], diagnoses=["I50.9"],
                 date_of_service=AFTER_OCT_2025)
    assert (result["status"], result["supporting_diagnosis"]) == ("covered", "I50.9")
    policy = result["policy"]
    assert {k: policy[k] for k in ("payer", "release", "document_id", "version", "rule_id", "hcpc_group",
                                   "covered_group", "kind")} == {
        "payer": "medicare", "release": "mcd@2026-04", "document_id": "A59001", "version": 3,
        "rule_id": "hcpc-1/covered-1", "hcpc_group": 1, "covered_group": 1, "kind": "mcd_article"}
    assert (result["match"]["via"], result["match"]["listed_as"]) == ("exact", "covered group 1")
    # A59002 (also published by contractor 90101) covers it too; both are shown.
    assert {s["policy"]["document_id"] for s in result["supports"]} == {"A59001", "A59002"}


def test_the_jurisdiction_selects_the_contractors_articles(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    result = one(client, engine, payer="medicare", jurisdiction="OR", procedures=["93306"], diagnoses=["I50.9"],
                 date_of_service=AFTER_OCT_2025)
    assert result["status"] == "covered" and result["policy"]["document_id"] == "A59002"
    assert [p["document_id"] for p in result["policies_considered"]] == ["A59002"]
    by_number = one(client, engine, payer="medicare", contractor="90211", procedures=["93306"], diagnoses=["I50.9"],
                    date_of_service=AFTER_OCT_2025)
    assert by_number["policy"]["document_id"] == "A59002"


def test_echo_for_a_screening_exam_is_not_covered(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    result = one(client, engine, payer="medicare", contractor="NY", procedures=["93306"], diagnoses=["Z00.00"],
                 date_of_service=AFTER_OCT_2025)
    assert result["status"] == "not_covered" and result["supporting_diagnosis"] is None
    assert [(d["diagnosis"], d["listed_as"], d["policy"]["document_id"]) for d in result["denials"]] == [
        ("Z00.00", "noncovered group 1", "A59001")]
    assert "non-covered list" in result["reason"]


def test_a_covered_diagnosis_wins_over_a_denied_one(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    result = one(client, engine, payer="medicare", procedures=["93306"], diagnoses=["Z00.00", "I50.9"],
                 date_of_service=AFTER_OCT_2025)
    assert result["status"] == "covered" and result["supporting_diagnosis"] == "I50.9"
    assert [d["diagnosis"] for d in result["denials"]] == ["Z00.00"]


def test_asterisk_code_is_covered_with_the_groups_condition(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    result = one(client, engine, payer="medicare", contractor="NY", procedures=["93306"], diagnoses=["R06.00"],
                 date_of_service=AFTER_OCT_2025)
    assert result["status"] == "covered" and result["match"]["asterisk"] is True
    assert any(n.startswith("* Symptom codes") for n in result["notes"])


def test_a_procedure_no_policy_lists_has_no_policy(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    answer = ask(client, engine, payer="medicare", procedures=["99213", "93312"], diagnoses=["I48.91"],
                 date_of_service=AFTER_OCT_2025)
    office, tee = answer["results"]
    assert (office["procedure"], office["status"], office["policy"]) == ("99213", "no_policy", None)
    assert (tee["status"], tee["policy"]["rule_id"]) == ("covered", "hcpc-2/covered-2")  # the TEE group's list


def test_the_article_under_review_answers_needs_review(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    result = one(client, engine, payer="medicare", procedures=["72148"], diagnoses=["M51.16"],
                 date_of_service=BEFORE_OCT_2025)
    assert result["status"] == "needs_review" and result["supporting_diagnosis"] is None
    assert (result["policy"]["document_id"], result["policy"]["needs_review"]) == ("A59003", True)
    assert result["match"]["paired"] is False and "group 1" in result["policy"]["review_reason"]
    unlisted = one(client, engine, payer="medicare", procedures=["72148"], diagnoses=["I50.9"],
                   date_of_service=BEFORE_OCT_2025)
    assert unlisted["status"] == "not_covered"  # in none of the article's covered groups, whatever the pairing


def test_a_date_outside_the_policy_window_has_no_policy(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    result = one(client, engine, payer="medicare", procedures=["72148"], diagnoses=["M51.16"],
                 date_of_service="2025-07-01")
    assert result["status"] == "no_policy" and "2025-06-30" in result["reason"]
    early = one(client, engine, payer="medicare", procedures=["93312"], diagnoses=["I48.91"],
                date_of_service="2024-12-31")  # A59002 starts 2025-01-01
    assert early["status"] == "no_policy"


def test_a_commercial_hierarchy_rule_covers_a_descendant_through_is_a(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    answer = ask(client, engine, payer="acme_health", procedures=["93306"], diagnoses=["I50.23"],
                 date_of_service=AFTER_OCT_2025)
    assert answer["icd10cm_release"] == "icd10cm@FY2026" and answer["release"] == "payer_rules@2026"
    result = answer["results"][0]
    assert (result["status"], result["supporting_diagnosis"]) == ("covered", "I50.23")
    match = result["match"]
    assert (match["listed_code"], match["scope"], match["via"], match["hierarchy"]) == (
        "I50", "descendants", "ancestor", "IS_A in icd10cm@FY2026")
    assert (result["policy"]["document_id"], result["policy"]["version"], result["policy"]["rule_id"]) == (
        "ACME-CARD-014", 3, "ACME-CARD-014")
    assert (result["prior_authorization"], result["frequency_limits"]) == (False, ["1 per 12 months"])


def test_without_an_icd10cm_release_in_force_the_hierarchy_is_read_from_the_code(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    answer = ask(client, engine, payer="acme_health", procedures=["93306"], diagnoses=["I50.23"],
                 date_of_service=BEFORE_OCT_2025)
    assert answer["icd10cm_release"] is None
    assert answer["results"][0]["status"] == "covered"
    assert answer["results"][0]["match"]["hierarchy"] == "code prefix"


def test_diagnosis_and_procedure_ranges(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    inside = one(client, engine, payer="acme_health", procedures=["93308"], diagnoses=["I48.11"],
                 date_of_service=AFTER_OCT_2025)
    assert inside["status"] == "covered" and inside["match"]["listed_as"] == "I48.0-I48.21"
    outside = one(client, engine, payer="acme_health", procedures=["93308"], diagnoses=["I48.91"],
                  date_of_service=AFTER_OCT_2025)
    assert outside["status"] == "not_covered"


def test_plan_limited_policy_and_prior_authorization(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    ppo = one(client, engine, payer="acme_health", plan="acme-ppo", procedures=["27447"], diagnoses=["M17.11"],
              date_of_service=AFTER_OCT_2025)
    assert ppo["status"] == "covered" and ppo["match"]["via"] == "ancestor"  # M17 and below; prefix (not loaded)
    assert ppo["prior_authorization"] is True and ppo["prior_authorization_notes"].startswith("Submit imaging")
    hmo = one(client, engine, payer="acme_health", plan="acme-hmo", procedures=["27447"], diagnoses=["M17.11"],
              date_of_service=AFTER_OCT_2025)
    assert hmo["status"] == "no_policy" and "acme-ppo" in hmo["reason"]


def test_a_policy_that_ended_gives_way_to_no_policy_while_another_payer_still_covers(client: TestClient,
                                                                                     engine) -> None:  # type: ignore[no-untyped-def]
    acme = one(client, engine, payer="acme_health", procedures=["45378"], diagnoses=["Z12.11"],
               date_of_service="2026-01-15")
    assert acme["status"] == "no_policy"  # ACME-GI-007 ended 2025-12-31
    northwind = one(client, engine, payer="northwind_mutual", procedures=["45378"], diagnoses=["Z12.11"],
                    date_of_service="2026-01-15")
    assert northwind["status"] == "covered" and northwind["policy"]["document_id"] == "NW-COLON"


def test_unknown_payer_is_a_404_problem(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/coverage", json={"payer": "nobody", "procedures": ["93306"], "diagnoses": ["I50.9"]},
                    headers=engine)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert "nobody" in r.json()["detail"] and "acme_health" in r.json()["detail"]


@pytest.mark.parametrize(("body", "where"), [
    ({"procedures": ["9330"], "diagnoses": ["I50.9"]}, "procedures"),
    ({"procedures": ["93306"], "diagnoses": ["150.9"]}, "diagnoses"),
    ({"procedures": [], "diagnoses": ["I50.9"]}, "procedures"),
    ({"procedures": ["93306"], "diagnoses": ["I50.9"], "contractor": "New York"}, "contractor"),
])
def test_malformed_input_is_a_422_naming_the_field(client: TestClient, engine, body: dict[str, Any],  # type: ignore[no-untyped-def]
                                                   where: str) -> None:
    r = client.post("/v1/coverage", json={"payer": "medicare", **body}, headers=engine)
    assert r.status_code == 422, r.text
    assert where in r.json()["detail"]


def test_every_role_may_ask_and_a_key_is_required(client: TestClient, engine, auditor, maintainer) -> None:  # type: ignore[no-untyped-def]
    body = {"payer": "medicare", "procedures": ["93306"], "diagnoses": ["I50.9"], "date_of_service": AFTER_OCT_2025}
    for headers in (engine, auditor, maintainer):
        assert client.post("/v1/coverage", json=body, headers=headers).status_code == 200
    assert client.post("/v1/coverage", json=body).status_code == 401
