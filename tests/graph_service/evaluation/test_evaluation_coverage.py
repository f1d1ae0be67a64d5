"""The coverage rule family of POST /v1/assignments/evaluate: a CPT line the payer's policy does not cover for the
coded diagnoses is a compliant error naming the PolicyRule node (release, payer, article, version, rule); the same
line with a covered diagnosis has no coverage finding. Graph: the fixture MCD articles and payers, a small
ICD-10-CM FY2026 release, the bundled coding rules."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from loaders.rules.records import BUNDLED as RULES_FILE
from tests.graph_service.evaluation.cases import evaluation
from tests.graph_service.lane import post_both_ways
from tests.loaders.coverage.test_coverage_load import load_coverage_graph

DAY = "2025-11-03"  # icd10cm@FY2026 and the fixture articles are in force


@pytest.fixture(scope="module", autouse=True)
def coverage_graph(driver: Driver, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Driver:
    load_coverage_graph(driver, settings, tmp_path_factory.mktemp("icd"), ("coding_rules", [RULES_FILE], "FY2026"))
    return driver


def _evaluate(client: TestClient, engine: dict[str, str], principal: str) -> dict[str, Any]:
    body = {"encounter": {"setting": "outpatient_hospital", "age": 66, "sex": "male", "admission_date": DAY,
                          "discharge_date": DAY, "payer": "medicare",
                          "evidence": [{"id": "x-dx", "codes": [{"system": "icd10cm", "code": principal}]},
                                       {"id": "x-echo", "kind": "procedure",
                                        "codes": [{"system": "cpt", "code": "93306"}]}]},
            "codes": {"principal": {"code": principal, "evidence": ["x-dx"]},
                      "lines": [{"code": "93306", "evidence": ["x-echo"]}]},
            "include_history": False}
    return evaluation(post_both_ways(client, "/v1/assignments/evaluate", body, engine))


def _coverage(out: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in out["compliant"]["findings"] if f["check"] == "coverage"]


def test_a_line_not_covered_for_the_diagnosis_names_the_policy_rule(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    (f,) = _coverage(_evaluate(client, engine, "Z00.00"))  # echo for a screening exam
    assert (f["severity"], f["codes"], f["lines"]) == ("error", ["93306"], ["1"])
    assert (f["rule"]["kind"], f["rule"]["label"], f["rule"]["release"]) == ("PolicyRule", "PolicyRule", "mcd@2026-04")
    assert f["rule"]["id"].startswith("mcd@2026-04|medicare|A59001|3|")
    assert f["rule"]["detail"]["document_id"] == "A59001"
    assert f["check_node"] == "coding_rules@FY2026|coverage" and "non-covered list" in f["explanation"]


def test_a_covered_line_has_no_coverage_finding(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    out = _evaluate(client, engine, "I50.9")  # echo for heart failure
    assert _coverage(out) == []
