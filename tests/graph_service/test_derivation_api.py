"""POST /v1/derive/icd10cm through HTTP: SNOMED CT findings → ICD-10-CM codes by the map's rules, explained.

The graph holds the SNOMED CT fixture release and two ICD-10-CM excerpts (FY2025 codes file, FY2026 order file)
written here with real codes and titles; the cases are the rule evaluator's, now answered from the graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from graph_service.graph import Graph
from graph_service.services.derivation import ANCESTRY
from loaders.registry import load_source
from tests.conftest import graph_counts, wipe_graph

PACKAGE = (Path(__file__).resolve().parents[1] / "fixtures" / "snomed"
           / "SnomedCT_USEditionRF2_PRODUCTION_20250301T120000Z")
URL = "/v1/derive/icd10cm"

# (code, billable, title): an excerpt of the FY2026 order file; I50.1 (85232009's target) is left out on purpose.
FY2026 = [
    ("H66.9", False, "Otitis media, unspecified"),
    ("H66.90", True, "Otitis media, unspecified, unspecified ear"),
    ("H66.91", True, "Otitis media, unspecified, right ear"),
    ("H66.93", True, "Otitis media, unspecified, bilateral"),
    ("N46.9", True, "Male infertility, unspecified"),
    ("N97.9", True, "Female infertility, unspecified"),
    ("J18.9", True, "Pneumonia, unspecified organism"),
    ("P23.9", True, "Congenital pneumonia, unspecified"),
    ("P59.9", True, "Neonatal jaundice, unspecified"),
    ("P36.9", True, "Bacterial sepsis of newborn, unspecified"),
    ("P81.9", True, "Disturbance of temperature regulation of newborn, unspecified"),
    ("P61.9", True, "Perinatal hematological disorder, unspecified"),
    ("I50.9", True, "Heart failure, unspecified"),
    ("O99.419", True, "Diseases of the circulatory system complicating pregnancy, unspecified trimester"),
    ("E11.21", True, "Type 2 diabetes mellitus with diabetic nephropathy"),
    ("I12.9", True, "Hypertensive chronic kidney disease with stage 1 through stage 4 chronic kidney disease, or "
                    "unspecified chronic kidney disease"),
]
FY2025_CODES = ("H66.90", "I50.9")  # a smaller excerpt, to tell the releases apart


def _order_file(path: Path) -> Path:
    lines = [f"{n:05d} {code.replace('.', ''):<7} {int(billable)} {title[:60]:<60} {title}"
             for n, (code, billable, title) in enumerate(FY2026, start=1)]
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


def _codes_file(path: Path) -> Path:
    titles = {code: title for code, _billable, title in FY2026}
    path.write_text("".join(f"{code.replace('.', ''):<7} {titles[code]}\n" for code in FY2025_CODES))
    return path


def _visible(driver: Driver, settings: Settings) -> set[str]:
    records, _, _ = driver.execute_query("MATCH (r:Release {status: 'visible'}) RETURN r.id AS id",
                                         database_=settings.neo4j_database)
    return {r["id"] for r in records}


WANTED = {"snomed@20250301", "icd10cm@FY2025", "icd10cm@FY2026"}


@pytest.fixture
def graph(driver: Driver, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Driver:
    """SNOMED CT 20250301 with ICD-10-CM FY2025 and FY2026 excerpts (reloaded only if another test wiped them)."""
    if _visible(driver, settings) != WANTED:
        wipe_graph(driver, settings.neo4j_database)
        folder = tmp_path_factory.mktemp("icd10cm")
        load_source(driver, settings, "icd10cm", [_codes_file(folder / "icd10cm-codes-2025.txt")], "FY2025")
        load_source(driver, settings, "icd10cm", [_order_file(folder / "icd10cm-order-2026.txt")], "FY2026")
        load_source(driver, settings, "snomed", [PACKAGE], "20250301")
    return driver


def _derive(client: TestClient, headers: dict[str, str], concepts: list[str], *, age: Any = None,
            sex: str = "unknown", others: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    response = client.post(URL, headers=headers, json={
        "concepts": concepts, "patient": {"age": age, "sex": sex}, "other_concepts": list(others),
        "date": "2025-11-03", **extra})
    assert response.status_code == 200, response.text
    return response.json()


def _groups(body: dict[str, Any], concept: str) -> list[dict[str, Any]]:
    return next(c for c in body["concepts"] if c["concept"] == concept)["groups"]


def _only(body: dict[str, Any], concept: str) -> dict[str, Any]:
    [group] = _groups(body, concept)
    return group


def _map_path(concept: str, term: str, rule_id: str, rule: str, code: str | None, title: str | None) -> list[Any]:
    path: list[Any] = [{"node": concept, "label": "SnomedConcept", "title": term}, {"rel": "HAS_MAP_RULE"},
                       {"node": rule_id, "label": "MapRule", "rule": rule}]
    if code:
        path += [{"rel": "MAPS_TO"}, {"node": code, "label": "ICD10CMCode", "title": title}]
    return path


def _outcomes(group: dict[str, Any]) -> list[tuple[int, str]]:
    return [(step["priority"], step["outcome"]) for step in group["explanation"]]


AGE_ONSET_UNDER_1_AND_FEMALE = ("IFA 445518008 | Age at onset of clinical finding (observable entity) | < 1.0 years "
                                "AND IFA 248152002 | Female (finding) |")


# --- the evaluator's cases through HTTP ----------------------------------------------------------------------------


def test_a_4_month_old_girl_with_otitis_media_gets_h66_90_by_age_and_sex(
    graph: Driver, client: TestClient, engine: dict[str, str]
) -> None:
    body = _derive(client, engine, ["65363002"], age={"value": 4, "unit": "months"}, sex="female")
    assert (body["release"], body["icd10cm_release"]) == ("snomed@20250301", "icd10cm@FY2026")
    [concept] = body["concepts"]
    assert (concept["preferred_term"], concept["fsn"], concept["active"]) == (
        "Otitis media", "Otitis media (disorder)", True)
    group = _only(body, "65363002")
    assert (group["status"], group["code"]) == ("mapped", {
        "code": "H66.90", "title": "Otitis media, unspecified, unspecified ear", "billable": True, "in_release": True})
    assert group["advice"].startswith("IF AGE AT ONSET OF CLINICAL FINDING BEFORE 1.0 YEARS AND IF FEMALE CHOOSE")
    [step] = group["explanation"]
    assert (step["priority"], step["outcome"], step["rule"]) == (1, "true", AGE_ONSET_UNDER_1_AND_FEMALE)
    assert step["why"] == ("age (for onset) 4 months = 0.333 years < 1 years: true; "
                           "sex is female (patient: female): true")
    rule_id = "160b8701-9074-5878-9fc6-6e8fb143a653@20230301"
    assert group["map_rule"] == step["map_rule"] == rule_id
    assert group["path"] == _map_path("65363002", "Otitis media", rule_id, AGE_ONSET_UNDER_1_AND_FEMALE, "H66.90",
                                      "Otitis media, unspecified, unspecified ear")
    assert group["concept_paths"] == [] and group["warnings"] == []


def test_an_adult_man_gets_the_adult_and_male_targets_after_the_earlier_rules_fail(
    graph: Driver, client: TestClient, engine: dict[str, str]
) -> None:
    body = _derive(client, engine, ["65363002", "8619003", "233604007"], age={"value": 45, "unit": "years"},
                   sex="male")
    otitis = _only(body, "65363002")
    assert (otitis["code"]["code"], otitis["code"]["title"]) == ("H66.93", "Otitis media, unspecified, bilateral")
    assert _outcomes(otitis) == [(1, "false"), (2, "false"), (3, "false"), (4, "true")]
    assert otitis["explanation"][2]["why"] == "current age 45 years > 64 years: false"
    assert otitis["explanation"][3]["why"] == "current age 45 years >= 18 years: true"
    assert otitis["path"][2]["rule"].endswith("| >= 18.0 years")
    infertility = _only(body, "8619003")
    assert (infertility["code"]["code"], _outcomes(infertility)) == ("N46.9", [(1, "false"), (2, "true")])
    assert infertility["explanation"][0]["why"] == "sex is female (patient: male): false"
    assert _only(body, "233604007")["code"]["code"] == "J18.9"


def test_a_newborn_of_10_days_gets_the_perinatal_codes(
    graph: Driver, client: TestClient, engine: dict[str, str]
) -> None:
    body = _derive(client, engine, ["18165001", "233604007", "91302008", "386661006", "271737000"],
                   age={"value": 10, "unit": "days"}, sex="male")
    assert [(_only(body, c)["code"]["code"], _only(body, c)["code"]["billable"]) for c in
            ("18165001", "233604007", "91302008", "386661006", "271737000")] == [
        ("P59.9", True), ("P23.9", True), ("P36.9", True), ("P81.9", True), ("P61.9", True)]
    jaundice = _only(body, "18165001")
    assert jaundice["explanation"] == [{
        "priority": 1, "map_rule": "0fa84e64-2731-53d9-bd10-b939ad54bd73@20230301",
        "rule": "IFA 445518008 | Age at onset of clinical finding (observable entity) | <= 28.0 days",
        "outcome": "true", "why": "age (for onset) 10 days <= 28 days: true", "target": "P59.9"}]
    assert jaundice["path"][-1] == {"node": "P59.9", "label": "ICD10CMCode", "title": "Neonatal jaundice, unspecified"}


def test_a_subtype_of_the_rule_concept_counts_through_is_a_in_the_graph(
    graph: Driver, client: TestClient, engine: dict[str, str]
) -> None:
    woman = {"age": {"value": 30, "unit": "years"}, "sex": "female"}
    pregnant = _derive(client, engine, ["42343007"], others=("72892002",), **woman)  # normal pregnancy
    group = _only(pregnant, "42343007")
    assert (group["code"]["code"], _outcomes(group)) == ("O99.419", [(1, "true")])
    assert group["explanation"][0]["why"] == "patient has 77386006 | Pregnancy (finding) | or a subtype: true"
    assert group["concept_paths"] == [[
        {"node": "72892002", "label": "SnomedConcept", "title": "Normal pregnancy"}, {"rel": "IS_A"},
        {"node": "77386006", "label": "SnomedConcept", "title": "Pregnancy"}]]
    not_pregnant = _only(_derive(client, engine, ["42343007"], **woman), "42343007")
    assert (not_pregnant["code"]["code"], _outcomes(not_pregnant)) == ("I50.9", [(1, "false"), (2, "true")])
    assert not_pregnant["concept_paths"] == []


def test_two_map_groups_give_two_codes_when_hypertension_and_ckd_are_there_as_subtypes(
    graph: Driver, client: TestClient, engine: dict[str, str]
) -> None:
    adult = {"age": {"value": 60, "unit": "years"}, "sex": "male"}
    body = _derive(client, engine, ["127013003"], others=("59621000", "431855005"), **adult)
    first, second = _groups(body, "127013003")
    assert [(g["group"], g["status"], g["code"]["code"]) for g in (first, second)] == [
        (1, "mapped", "E11.21"), (2, "mapped", "I12.9")]
    assert second["code"]["title"].startswith("Hypertensive chronic kidney disease with stage 1 through stage 4")
    assert second["concept_paths"] == [
        [{"node": "59621000", "label": "SnomedConcept", "title": "Essential hypertension"}, {"rel": "IS_A"},
         {"node": "38341003", "label": "SnomedConcept", "title": "Hypertension"}],
        [{"node": "431855005", "label": "SnomedConcept", "title": "Chronic kidney disease stage 1"}, {"rel": "IS_A"},
         {"node": "709044004", "label": "SnomedConcept", "title": "Chronic kidney disease"}],
    ]
    without_ckd = _groups(_derive(client, engine, ["127013003"], others=("59621000",), **adult), "127013003")[1]
    assert (without_ckd["status"], without_ckd["code"], _outcomes(without_ckd)) == (
        "no_target", None, [(1, "false"), (2, "true")])
    assert without_ckd["advice"] == "MAP SOURCE CONCEPT CANNOT BE CLASSIFIED WITH AVAILABLE DATA"
    assert without_ckd["path"] == _map_path("127013003", "Diabetic renal disease",
                                            "21bf36b0-bc81-5fd4-a8ff-9f4fc233caaa@20230301", "OTHERWISE TRUE",
                                            None, None)  # no MAPS_TO: the row has no target


def test_an_unreadable_rule_stops_the_group_for_review_and_otherwise_true_is_not_taken(
    graph: Driver, client: TestClient, engine: dict[str, str]
) -> None:
    body = _derive(client, engine, ["36971009"], others=("195967001",), age={"value": 45, "unit": "years"},
                   sex="male")
    group = _only(body, "36971009")
    assert (group["status"], group["code"], group["map_rule"], group["path"]) == ("needs_review", None, None, [])
    assert group["reason"] == "priority 1: rule not understood (expected ' AND ' or the end at character 36)"
    assert _outcomes(group) == [(1, "unparseable")]
    assert [(row["priority"], row["target"]) for row in group["undecided"]] == [(1, "J32.9"), (2, "J01.90")]


def test_a_missing_age_is_never_taken_as_true(graph: Driver, client: TestClient, engine: dict[str, str]) -> None:
    group = _only(_derive(client, engine, ["233604007"], sex="male"), "233604007")
    assert (group["status"], group["code"]) == ("needs_review", None)
    assert group["reason"] == "priority 1: age (for onset) < 28 days: age not given"
    assert _outcomes(group) == [(1, "unknown")]
    assert [row["priority"] for row in group["undecided"]] == [1, 2]


def test_otherwise_true_is_the_fallback_when_the_age_rule_fails(
    graph: Driver, client: TestClient, engine: dict[str, str]
) -> None:
    group = _only(_derive(client, engine, ["233604007"], age={"value": 3, "unit": "years"}), "233604007")
    assert (group["status"], group["code"]["code"], group["advice"]) == (
        "mapped", "J18.9", "MAP OF SOURCE CONCEPT IS CONTEXT DEPENDENT")
    assert _outcomes(group) == [(1, "false"), (2, "true")]
    assert group["explanation"][0]["why"] == "age (for onset) 3 years = 1095.75 days < 28 days: false"
    assert group["path"][2] == {"node": "8384a584-7156-576b-864a-2a811beffa0a@20230301", "label": "MapRule",
                                "rule": "OTHERWISE TRUE"}


# --- concepts the release lacks, releases, bad input ---------------------------------------------------------------


def test_unknown_inactive_and_unmapped_concepts_are_reported_per_concept(
    graph: Driver, client: TestClient, engine: dict[str, str]
) -> None:
    body = _derive(client, engine, ["195662009", "195111005", "404684003", "84114007"],
                   others=("3720001108", "59621000"))
    unknown, inactive, unmapped, heart_failure = body["concepts"]
    assert (unknown["found"], unknown["reason"], unknown["groups"]) == (
        False, "not a concept of SNOMED CT release snomed@20250301", [])
    assert (inactive["found"], inactive["active"], inactive["preferred_term"], inactive["reason"]) == (
        True, False, "Decompensated cardiac failure",
        "inactive in snomed@20250301; no active ICD-10-CM map rows in snomed@20250301")
    assert (unmapped["reason"], unmapped["groups"]) == ("no active ICD-10-CM map rows in snomed@20250301", [])
    assert _only(body, "84114007")["code"]["code"] == heart_failure["groups"][0]["code"]["code"] == "I50.9"
    assert body["other_concepts_not_found"] == ["3720001108"]


def test_the_icd10cm_release_in_force_on_the_date_gives_titles_and_flags_codes_it_lacks(
    graph: Driver, client: TestClient, engine: dict[str, str]
) -> None:
    fy2025 = _derive(client, engine, ["65363002", "84114007"], age={"value": 4, "unit": "months"}, sex="female",
                     date="2025-03-15")
    assert fy2025["icd10cm_release"] == "icd10cm@FY2025"
    assert _only(fy2025, "84114007")["code"] == {
        "code": "I50.9", "title": "Heart failure, unspecified", "billable": True, "in_release": True}
    left_ventricular = _only(_derive(client, engine, ["85232009"]), "85232009")
    assert (left_ventricular["status"], left_ventricular["code"]) == (
        "mapped", {"code": "I50.1", "title": None, "billable": None, "in_release": False})
    assert left_ventricular["warnings"] == [
        "I50.1 is not in icd10cm@FY2026: the map names a code this release lacks"]
    chosen = _derive(client, engine, ["65363002"], age={"value": 4, "unit": "months"}, sex="female",
                     icd10cm_release="FY2025", date=None)
    assert chosen["icd10cm_release"] == "icd10cm@FY2025"


def test_the_is_a_closure_is_read_once_for_the_whole_encounter(
    graph: Driver, client: TestClient, engine: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    original = Graph.read

    def counting(self: Graph, cypher: str, **params: Any) -> list[dict[str, Any]]:
        reads.append(cypher)
        return original(self, cypher, **params)

    monkeypatch.setattr(Graph, "read", counting)
    _derive(client, engine, ["127013003", "42343007", "65363002", "8619003"], age={"value": 60, "unit": "years"},
            sex="female", others=("59621000", "431855005", "72892002"))
    many = len(reads)
    assert reads.count(ANCESTRY) == 1
    reads.clear()
    _derive(client, engine, ["84114007"])
    assert len(reads) == many  # the same reads for one finding as for four with concept rules


def test_malformed_concept_ids_and_ages_are_refused_with_their_location(
    graph: Driver, settings: Settings, client: TestClient, engine: dict[str, str]
) -> None:
    before = graph_counts(graph, settings.neo4j_database)
    for concepts, patient, loc, says in [
        (["84114007", "42343008"], {}, ["body", "concepts", 1], "Verhoeff check (its last digit should be 7)"),
        (["5000044014"], {}, ["body", "concepts", 0], "is not a concept id (partition '01'"),
        (["0084114007"], {}, ["body", "concepts", 0], "6-18 digits with no leading zero"),
        (["84114007"], {"age": {"value": 4, "unit": "fortnights"}}, ["body", "patient", "age", "unit"], "'weeks'"),
        (["84114007"], {"age": {"value": -1, "unit": "days"}}, ["body", "patient", "age", "value"], "0"),
        (["84114007"], {"sex": "f"}, ["body", "patient", "sex"], "'female'"),
    ]:
        response = client.post(URL, headers=engine, json={"concepts": concepts, "patient": patient})
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert error["loc"] == loc and says in error["msg"], error
    assert client.post(URL, headers=engine, json={"concepts": []}).status_code == 422
    assert graph_counts(graph, settings.neo4j_database) == before


def test_an_unknown_release_is_not_found_and_a_key_is_required(
    graph: Driver, client: TestClient, engine: dict[str, str]
) -> None:
    response = client.post(URL, headers=engine, json={"concepts": ["84114007"], "release": "20990101"})
    assert response.status_code == 404
    assert "release 'snomed@20990101' is not loaded" in response.json()["detail"]
    response = client.post(URL, headers=engine, json={"concepts": ["84114007"], "date": "2019-01-01"})
    assert response.status_code == 404 and "no icd10cm release in force on 2019-01-01" in response.json()["detail"]
    assert client.post(URL, json={"concepts": ["84114007"]}).status_code == 401


def test_the_code_record_lists_the_concept_map_rows_as_loaded(
    graph: Driver, client: TestClient, auditor: dict[str, str]
) -> None:
    response = client.get("/v1/codes/snomed/127013003", headers=auditor)
    assert response.status_code == 200, response.text
    record = response.json()
    assert (record["title"], record["release"]) == ("Diabetic renal disease", "snomed@20250301")
    assert [(m["group"], m["priority"], m["target"], m["category"]) for m in record["maps"]] == [
        (1, 1, "E11.21", "447637006"), (2, 1, "I12.9", "447639009"), (2, 2, None, "447638001")]


def test_without_an_icd10cm_release_the_codes_come_without_titles(
    clean_graph: Driver, settings: Settings, client: TestClient, engine: dict[str, str]
) -> None:
    load_source(clean_graph, settings, "snomed", [PACKAGE], "20250301")
    response = client.post(URL, headers=engine, json={"concepts": ["84114007"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["icd10cm_release"] is None
    assert _only(body, "84114007")["code"] == {"code": "I50.9", "title": None, "billable": None, "in_release": None}
