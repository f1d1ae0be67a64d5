"""ConceptMap $translate with patient context on the map-rule fixture cases: the same outcomes as
POST /v1/derive/icd10cm; SNOMED CT CodeSystem operations on the graph path; the conversion ConceptMap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from loaders.registry import load_source
from tests.graph_service.fhir.conftest import issue, param, params, properties, resource
from tests.graph_service.test_derivation_api import graph  # noqa: F401  SNOMED CT fixture + ICD-10-CM excerpts

SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
MAP = "http://snomed.info/sct?fhir_cm=6011000124106"
TRANSLATE = "/fhir/ConceptMap/$translate"
SCT_VERSION = "http://snomed.info/sct/731000124108/version/20250301"


def _dep(element: str, **value: Any) -> dict[str, Any]:
    return {"name": "dependency", "part": [{"name": "element", "valueUri": element},
                                           *({"name": k, f"value{k[0].upper()}{k[1:]}" if k != "value" else
                                              "valueQuantity": v} for k, v in value.items())]}


def _age(element: str, value: float, ucum: str) -> dict[str, Any]:
    return {"name": "dependency", "part": [
        {"name": "element", "valueUri": element},
        {"name": "value", "valueQuantity": {"value": value, "system": "http://unitsofmeasure.org", "code": ucum}}]}


def _sex(code: str) -> dict[str, Any]:
    return {"name": "dependency", "part": [
        {"name": "element", "valueUri": "http://snomed.info/id/263495000"},
        {"name": "concept", "valueCodeableConcept": {"coding": [{"system": SCT, "code": code}]}}]}


def _has(code: str) -> dict[str, Any]:
    return {"name": "dependency", "part": [
        {"name": "element", "valueUri": SCT},
        {"name": "concept", "valueCodeableConcept": {"coding": [{"system": SCT, "code": code}]}}]}


AGE = "http://snomed.info/id/424144002"
FEMALE, MALE = "248152002", "248153007"


def _translate(client: TestClient, headers: dict[str, str], code: str, *deps: dict[str, Any]) -> dict[str, Any]:
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "url", "valueUri": MAP}, {"name": "system", "valueUri": SCT}, {"name": "code", "valueCode": code},
        {"name": "targetsystem", "valueUri": ICD}, *deps]}
    return resource(client.post(TRANSLATE, json=body, headers=headers), "Parameters")


def _derive(client: TestClient, headers: dict[str, str], code: str, patient: dict[str, Any],
            others: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    response = client.post("/v1/derive/icd10cm", headers=headers, json={
        "concepts": [code], "patient": patient, "other_concepts": list(others)})
    assert response.status_code == 200, response.text
    return response.json()["concepts"][0]["groups"]


def _same_as_derive(fhir: dict[str, Any], groups: list[dict[str, Any]]) -> None:
    """Each map group's status, selected code and rule outcomes are those of /v1/derive/icd10cm."""
    summaries = params(fhir, "map-group")
    assert [(s["group"], s["status"]) for s in summaries] == [(g["group"], g["status"].replace("_", "-"))
                                                              for g in groups]
    for summary, group in zip(summaries, groups, strict=True):
        assert (summary.get("concept") or {}).get("code") == (group["code"] or {}).get("code")
        assert summary.get("reason") == group["reason"]
        evaluated = [(m["priority"], m["outcome"], m["why"]) for m in params(fhir, "match")
                     if m["group"] == group["group"] and m["outcome"] != "not-evaluated"]
        assert evaluated == [(s["priority"], s["outcome"], s["why"]) for s in group["explanation"]]
        selected = [m["priority"] for m in params(fhir, "match") if m["group"] == group["group"] and m["selected"]]
        chosen = [s["priority"] for s in group["explanation"] if s["map_rule"] == group["map_rule"]]
        assert selected == (chosen if group["status"] != "needs_review" else [])


@pytest.mark.usefixtures("graph")
def test_age_in_months_and_sex_select_the_target_as_derivation_does(client: TestClient, engine: dict[str, str]) -> None:
    girl = _translate(client, engine, "65363002", _age(AGE, 4, "mo"), _sex(FEMALE))
    _same_as_derive(girl, _derive(client, engine, "65363002", {"age": {"value": 4, "unit": "months"},
                                                                "sex": "female"}))
    [summary] = params(girl, "map-group")
    assert (summary["status"], summary["concept"]["code"], summary["priority"]) == ("mapped", "H66.90", 1)
    assert param(girl, "result") is True and param(girl, "message") == "group 1: H66.90 by priority 1"
    rows = params(girl, "match")
    assert [(m["priority"], m["selected"], m["outcome"]) for m in rows][:2] == [(1, True, "true"),
                                                                                (2, False, "not-evaluated")]
    assert rows[1]["why"] == "not evaluated: priority 1 held first"
    assert rows[0]["concept"] == {"system": ICD, "version": "FY2026", "code": "H66.90",
                                  "display": "Otitis media, unspecified, unspecified ear"}
    man = _translate(client, engine, "65363002", _age(AGE, 45, "a"), _sex(MALE))
    _same_as_derive(man, _derive(client, engine, "65363002", {"age": {"value": 45, "unit": "years"}, "sex": "male"}))
    assert param(man, "map-group")["concept"]["code"] == "H66.93"


@pytest.mark.usefixtures("graph")
def test_co_occurring_concepts_count_by_subsumption(client: TestClient, engine: dict[str, str]) -> None:
    woman = ({"age": {"value": 30, "unit": "years"}, "sex": "female"}, (_age(AGE, 30, "a"), _sex(FEMALE)))
    pregnant = _translate(client, engine, "42343007", *woman[1], _has("72892002"))  # normal pregnancy ⊂ pregnancy
    _same_as_derive(pregnant, _derive(client, engine, "42343007", woman[0], ("72892002",)))
    assert param(pregnant, "map-group")["concept"]["code"] == "O99.419"
    assert params(pregnant, "match")[0]["why"] == "patient has 77386006 | Pregnancy (finding) | or a subtype: true"
    both = _translate(client, engine, "127013003", _age(AGE, 60, "a"), _sex(MALE), _has("59621000"),
                      _has("431855005"))
    _same_as_derive(both, _derive(client, engine, "127013003", {"age": {"value": 60, "unit": "years"}, "sex": "male"},
                                  ("59621000", "431855005")))
    assert [g["concept"]["code"] for g in params(both, "map-group")] == ["E11.21", "I12.9"]


@pytest.mark.usefixtures("graph")
def test_otherwise_true_unparseable_rules_and_missing_age(client: TestClient, engine: dict[str, str]) -> None:
    child = _translate(client, engine, "233604007", _age(AGE, 3, "a"))
    _same_as_derive(child, _derive(client, engine, "233604007", {"age": {"value": 3, "unit": "years"}}))
    assert (param(child, "map-group")["concept"]["code"], param(child, "map-group")["rule"]) == (
        "J18.9", "OTHERWISE TRUE")
    sinusitis = _translate(client, engine, "36971009", _age(AGE, 45, "a"), _sex(MALE), _has("195967001"))
    _same_as_derive(sinusitis, _derive(client, engine, "36971009", {"age": {"value": 45, "unit": "years"},
                                                                    "sex": "male"}, ("195967001",)))
    summary = param(sinusitis, "map-group")
    assert (summary["status"], param(sinusitis, "result")) == ("needs-review", False)
    assert summary["reason"] == "priority 1: rule not understood (expected ' AND ' or the end at character 36)"
    assert [(m["priority"], m["outcome"]) for m in params(sinusitis, "match")] == [(1, "unparseable"),
                                                                                    (2, "not-evaluated")]
    no_age = _translate(client, engine, "233604007", _sex(MALE))
    _same_as_derive(no_age, _derive(client, engine, "233604007", {"sex": "male"}))
    assert param(no_age, "map-group")["reason"] == "priority 1: age (for onset) < 28 days: age not given"


@pytest.mark.usefixtures("graph")
def test_without_context_every_row_comes_back_with_its_rule(client: TestClient, engine: dict[str, str]) -> None:
    body = resource(client.get(TRANSLATE, params={"url": MAP, "system": SCT, "code": "127013003"}, headers=engine),
                    "Parameters")
    v1 = client.get("/v1/codes/snomed/127013003", headers=engine).json()["maps"]
    assert [(m["group"], m["priority"], m["rule"], (m.get("concept") or {}).get("code")) for m in
            params(body, "match")] == [(r["group"], r["priority"], r["rule"], r["target"]) for r in v1]
    assert [m["equivalence"] for m in params(body, "match")] == ["relatedto", "relatedto", "unmatched"]
    assert params(body, "map-group") == [] and "no rule was evaluated" in param(body, "message")
    unknown = resource(client.get(TRANSLATE, params={"system": SCT, "code": "195662009"}, headers=engine),
                       "Parameters")
    assert param(unknown, "result") is False and "is not in release snomed@20250301" in param(unknown, "message")


@pytest.mark.usefixtures("graph")
def test_translate_refuses_what_it_cannot_read(client: TestClient, engine: dict[str, str]) -> None:
    odd = {"name": "dependency", "part": [{"name": "element", "valueUri": "http://example.org/weight"},
                                          {"name": "concept", "valueCodeableConcept": {"text": "70 kg"}}]}
    issue(client.post(TRANSLATE, headers=engine, json={"resourceType": "Parameters", "parameter": [
        {"name": "system", "valueUri": SCT}, {"name": "code", "valueCode": "65363002"}, odd]}), 400, "not-supported")
    issue(client.post(TRANSLATE, headers=engine, json={"resourceType": "Parameters", "parameter": [
        {"name": "system", "valueUri": SCT}, {"name": "code", "valueCode": "65363002"}, _age(AGE, 4, "wk")]}),
        400, "invalid")
    issue(client.get(TRANSLATE, params={"system": SCT, "code": "65363002", "reverse": "true"}, headers=engine), 400,
          "not-supported")
    issue(client.get(TRANSLATE, params={"system": SCT, "code": "65363002", "targetsystem": "http://www.ama-assn.org/go/cpt"},
                     headers=engine), 400, "not-supported")
    issue(client.get(TRANSLATE, params={"url": "http://example.org/cm", "code": "1"}, headers=engine), 404, "not-found")


@pytest.mark.usefixtures("graph")
def test_snomed_code_system_on_the_graph_path(client: TestClient, engine: dict[str, str]) -> None:
    body = resource(client.get("/fhir/CodeSystem/$lookup", params={"system": SCT, "code": "59621000"},
                               headers=engine), "Parameters")
    assert (param(body, "display"), param(body, "version")) == ("Essential hypertension", SCT_VERSION)
    assert properties(body, "parent") == ["38341003"] and properties(body, "inactive") == [False]
    [fsn] = params(body, "designation")
    assert (fsn["use"]["code"], fsn["value"]) == ("900000000000003001", "Essential hypertension (disorder)")
    inactive = resource(client.get("/fhir/CodeSystem/$lookup", params={"system": SCT, "code": "195111005",
                                                                       "version": SCT_VERSION}, headers=engine),
                        "Parameters")
    assert properties(inactive, "inactive") == [True]
    expansion = resource(client.get("/fhir/ValueSet/$expand", params={"url": f"{SCT}?fhir_vs=isa/38341003"},
                                    headers=engine), "ValueSet")["expansion"]
    v1 = client.get("/v1/codes/snomed/38341003/descendants", headers=engine).json()
    assert [c["code"] for c in expansion["contains"]] == ["38341003", *(i["code"] for i in v1["items"])]
    assert expansion["total"] == v1["total"] + 1
    outcome = resource(client.get("/fhir/CodeSystem/$subsumes", params={
        "system": SCT, "codeA": "38341003", "codeB": "59621000"}, headers=engine), "Parameters")
    assert param(outcome, "outcome") == "subsumes"
    maps = resource(client.get("/fhir/ConceptMap", params={"url": MAP}, headers=engine), "Bundle")
    assert [e["resource"]["version"] for e in maps["entry"]] == [SCT_VERSION]
    tc = resource(client.get("/fhir/metadata", params={"mode": "terminology"}, headers=engine),
                  "TerminologyCapabilities")
    assert {s["uri"]: [v["code"] for v in s["version"]] for s in tc["codeSystem"]} == {
        ICD: ["FY2025", "FY2026"], SCT: [SCT_VERSION]}


def test_the_conversion_table_is_a_concept_map_between_fiscal_years(
    clean_graph: Driver, settings: Settings, tmp_path: Path, client: TestClient, engine: dict[str, str]
) -> None:
    codes = tmp_path / "icd10cm-codes-2024.txt"
    codes.write_text("".join(f"{c:<7} Title {c}\n" for c in ["C8339", "H02101", "H02102", "M5136", "M5137", "E119"]))
    load_source(clean_graph, settings, "icd10cm", [codes], "FY2024")
    table = Path(__file__).resolve().parents[2] / "fixtures" / "icd10cm" / "icd10cm-conversion-table-excerpt.txt"
    load_source(clean_graph, settings, "icd10cm_conversion", [table], "FY2025")
    body = resource(client.get(TRANSLATE, params={"system": ICD, "code": "C83.39"}, headers=engine), "Parameters")
    assert param(body, "result") is True
    assert [(m["concept"]["code"], m["concept"]["version"], m["equivalence"]) for m in params(body, "match")] == [
        ("C83.390", "FY2025", "relatedto"), ("C83.398", "FY2025", "relatedto")]
    none = resource(client.get(TRANSLATE, params={"system": ICD, "code": "H02.101", "version": "FY2024"},
                               headers=engine), "Parameters")
    assert [m["concept"]["code"] for m in params(none, "match")] == ["H02.10A"]
    unchanged = resource(client.get(TRANSLATE, params={"system": ICD, "code": "M51.36"}, headers=engine),
                         "Parameters")
    assert [m["concept"]["code"] for m in params(unchanged, "match")] == ["M51.360"]
    missing = resource(client.get(TRANSLATE, params={"system": ICD, "code": "A00.0"}, headers=engine), "Parameters")
    assert param(missing, "result") is False
    # conceptMapVersion is the ConceptMap's version: the conversion table's release.
    pinned = resource(client.get(TRANSLATE, params={"system": ICD, "code": "C83.39", "conceptMapVersion": "FY2025"},
                                 headers=engine), "Parameters")
    assert params(pinned, "match") == params(body, "match")
    unknown = issue(client.get(TRANSLATE, params={"system": ICD, "code": "C83.39", "conceptMapVersion": "FY2099"},
                               headers=engine), 404, "not-found")
    assert unknown["expression"] == ["conceptMapVersion"]
    maps = resource(client.get("/fhir/ConceptMap", headers=engine), "Bundle")
    assert [(e["resource"]["url"], e["resource"]["version"]) for e in maps["entry"]] == [
        ("http://hl7.org/fhir/sid/icd-10-cm?fhir_cm=conversion", "FY2025")]


@pytest.mark.usefixtures("graph")
def test_concept_map_version_names_the_map_and_may_come_in_the_url(client: TestClient, engine: dict[str, str]) -> None:
    def translate(**query: str) -> dict[str, Any]:
        return resource(client.get(TRANSLATE, params={"url": MAP, "system": SCT, "code": "127013003", **query},
                                   headers=engine), "Parameters")

    plain = translate()
    assert translate(conceptMapVersion=SCT_VERSION) == plain  # the version the ConceptMap resource carries
    assert translate(conceptMapVersion="20250301") == plain
    assert translate(url=f"{MAP}|{SCT_VERSION}") == plain
    later = issue(client.get(TRANSLATE, params={"url": MAP, "system": SCT, "code": "127013003",
                                                "conceptMapVersion": "http://snomed.info/sct/731000124108/version/20990301"},
                             headers=engine), 404, "not-found")
    assert "snomed@20990301" in later["diagnostics"]
    issue(client.get(TRANSLATE, params={"url": f"{MAP}|20250301", "conceptMapVersion": "20240301", "system": SCT,
                                        "code": "127013003"}, headers=engine), 400, "invalid")
