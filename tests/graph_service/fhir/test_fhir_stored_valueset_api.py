"""`codegraph load valueset` and the stored value sets through /fhir: a compose with is-a and descendent-of
filters, a concept list and an exclude over two releases; the MS-DRG MCC and CC lists (IPPS Tables 6I/6J)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from loaders.errors import ParseError
from loaders.registry import load_source
from tests.conftest import graph_counts
from tests.graph_service.fhir.conftest import issue, param, parameters, resource

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
MSDRG = Path(__file__).resolve().parents[2] / "fixtures" / "msdrg"
# (code, billable, title): real FY2026 codes and titles, every code of the Table 6I/6J samples with its parents.
CODES = [
    ("A00", False, "Cholera"), ("A00.0", True, "Cholera due to Vibrio cholerae 01, biovar cholerae"),
    ("A00.1", True, "Cholera due to Vibrio cholerae 01, biovar eltor"), ("A00.9", True, "Cholera, unspecified"),
    ("A02", False, "Other salmonella infections"), ("A02.1", True, "Salmonella sepsis"),
    ("D89.8", False, "Other specified disorders involving the immune mechanism, not elsewhere classified"),
    ("D89.83", False, "Cytokine release syndrome"), ("D89.833", True, "Cytokine release syndrome, grade 3"),
    ("I46", False, "Cardiac arrest"), ("I46.2", True, "Cardiac arrest due to underlying cardiac condition"),
    ("R57", False, "Shock, not elsewhere classified"), ("R57.0", True, "Cardiogenic shock"),
    ("T79.4", False, "Traumatic shock"), ("T79.4XXA", True, "Traumatic shock, initial encounter"),
    ("U07.1", True, "COVID-19"), ("Z99.1", False, "Dependence on respirator"),
    ("Z99.12", True, "Encounter for respirator [ventilator] dependence during power failure"),
]
TABULAR = Path(__file__).resolve().parents[2] / "fixtures" / "icd10cm" / "icd10cm-tabular-excerpt.xml"
# Includes of two releases: FY2025 (the tabular excerpt, with its hierarchy) by filter, FY2026 by concept list.
SKULL_AND_CHOLERA = {
    "resourceType": "ValueSet", "url": "https://example.org/fhir/ValueSet/skull-and-cholera", "version": "1",
    "name": "SkullAndCholera", "status": "active",
    "compose": {"include": [
        {"system": ICD, "version": "FY2025", "filter": [{"property": "concept", "op": "is-a", "value": "S02.1"}]},
        {"system": ICD, "version": "FY2025",
         "filter": [{"property": "concept", "op": "descendent-of", "value": "A00"}]},
        {"system": ICD, "concept": [{"code": "U07.1"}]}],
        "exclude": [{"system": ICD, "version": "FY2025", "concept": [{"code": "S02.101"}, {"code": "A00.9"}]}]},
}


def _order_file(path: Path) -> Path:
    path.write_text("".join(f"{n:05d} {c.replace('.', ''):<7} {int(b)} {t[:60]:<60} {t}\r\n"
                            for n, (c, b, t) in enumerate(CODES, start=1)))
    return path


@pytest.fixture
def value_sets(clean_graph: Driver, settings: Settings, tmp_path: Path) -> Driver:
    load_source(clean_graph, settings, "icd10cm", [TABULAR], "FY2025")
    load_source(clean_graph, settings, "icd10cm", [_order_file(tmp_path / "icd10cm-order-2026.txt")], "FY2026")
    (tmp_path / "cholera.json").write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                                       "entry": [{"resource": SKULL_AND_CHOLERA}]}))
    files = [MSDRG / "table6i_fy2026_sample.txt", MSDRG / "table6j_fy2026_sample.txt", tmp_path / "cholera.json"]
    report = load_source(clean_graph, settings, "valueset", files, "FY2026")
    assert (report.counts["value_sets"], report.counts["members"]) == (3, 5 + 5 + 10)
    return clean_graph


def test_a_compose_with_is_a_a_concept_list_and_an_exclude(
    value_sets: Driver, client: TestClient, engine: dict[str, str]
) -> None:
    url = SKULL_AND_CHOLERA["url"]
    body = resource(client.get("/fhir/ValueSet/$expand", params={"url": url}, headers=engine), "ValueSet")
    # S02.101 is excluded by concept: its generated 7th-character codes stay (they are not S02.101).
    seventh = [f"S02.101{c}" for c in "ABDGKS"]
    assert (body["url"], body["version"], body["expansion"]["total"]) == (url, "1", 10)
    assert [(c["code"], c["version"]) for c in body["expansion"]["contains"]] == [
        ("A00.0", "FY2025"), ("S02.1", "FY2025"), ("S02.10", "FY2025"), *((c, "FY2025") for c in seventh),
        ("U07.1", "FY2026")]
    assert "compose" not in body
    posted = resource(client.post("/fhir/ValueSet/$expand", json=parameters(url=url, count=1, offset=1),
                                  headers=engine), "ValueSet")
    assert [c["code"] for c in posted["expansion"]["contains"]] == ["S02.1"]
    filtered = resource(client.get("/fhir/ValueSet/$expand", params={"url": url, "filter": "unspecified"},
                                   headers=engine), "ValueSet")
    assert [c["code"] for c in filtered["expansion"]["contains"]] == ["S02.10"]  # not A00.9: excluded

    def member(code: str) -> bool:
        return param(resource(client.get("/fhir/ValueSet/$validate-code", params={
            "url": url, "system": ICD, "code": code}, headers=engine), "Parameters"), "result")

    assert [member(c) for c in ("A00", "A00.0", "A00.9", "S02.10", "S02.101", "S02.101A", "U07.1", "I46.2")] == [
        False, True, False, True, False, True, True, False]


def test_the_mcc_and_cc_lists_are_value_sets_of_their_fiscal_year(
    value_sets: Driver, client: TestClient, engine: dict[str, str]
) -> None:
    base = "https://www.cms.gov/medicare/payment/prospective-payment-systems/acute-inpatient-pps/msdrg-"
    mcc = resource(client.get("/fhir/ValueSet/$expand", params={"url": base + "mcc", "valueSetVersion": "FY2026"},
                              headers=engine), "ValueSet")
    assert [c["code"] for c in mcc["expansion"]["contains"]] == ["A02.1", "I46.2", "R57.0", "T79.4XXA", "U07.1"]
    assert mcc["expansion"]["contains"][1]["display"] == "Cardiac arrest due to underlying cardiac condition"
    cc = resource(client.get("/fhir/ValueSet/$validate-code", params={"url": base + "cc", "system": ICD,
                                                                      "code": "D89.833"}, headers=engine),
                  "Parameters")
    assert (param(cc, "result"), param(cc, "display")) == (True, "Cytokine release syndrome, grade 3")
    for version, held in (("FY2026", True), ("icd10cm@FY2026", True), ("FY2025", False)):  # the member's release
        pinned = resource(client.get("/fhir/ValueSet/$validate-code", params={
            "url": base + "cc", "system": ICD, "code": "D89.833", "systemVersion": version}, headers=engine),
            "Parameters")
        assert param(pinned, "result") is held, version
    assert "as of ICD-10-CM FY2026, not FY2025" in param(pinned, "message")
    not_cc = resource(client.get("/fhir/ValueSet/$validate-code", params={"url": base + "cc", "system": ICD,
                                                                          "code": "I46.2"}, headers=engine),
                      "Parameters")
    assert param(not_cc, "result") is False  # an MCC, not on the CC list
    issue(client.get("/fhir/ValueSet/$expand", params={"url": base + "cc", "valueSetVersion": "FY1999"},
                     headers=engine), 404, "not-found")
    listed = resource(client.get("/fhir/ValueSet", headers=engine), "Bundle")
    assert [(e["resource"]["url"], e["resource"]["version"]) for e in listed["entry"]] == [
        ("https://example.org/fhir/ValueSet/skull-and-cholera", "1"), (base + "cc", "FY2026"), (base + "mcc", "FY2026")]
    [mcc_definition] = resource(client.get("/fhir/ValueSet", params={"url": base + "mcc"}, headers=engine),
                                "Bundle")["entry"]
    assert len(mcc_definition["resource"]["compose"]["include"][0]["concept"]) == 5


def test_a_value_set_naming_a_code_the_release_lacks_is_refused_with_its_location(
    value_sets: Driver, settings: Settings, tmp_path: Path
) -> None:
    before = graph_counts(value_sets, settings.neo4j_database)
    bad = json.loads(json.dumps(SKULL_AND_CHOLERA))
    bad["url"] = "https://example.org/fhir/ValueSet/bad"
    bad["compose"]["include"][2]["concept"] = [{"code": "U07.1"}, {"code": "Q99.999"}]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ParseError) as err:
        load_source(value_sets, settings, "valueset", [tmp_path / "bad.json"], "2026-01")
    assert "bad.json" in str(err.value) and "ValueSet.compose.include[2].concept[1]" in str(err.value)
    assert "a code of icd10cm@FY2026" in str(err.value) and "Q99.999" in str(err.value)
    other = json.loads(json.dumps(SKULL_AND_CHOLERA))
    other["compose"]["include"] = [{"valueSet": ["https://example.org/other"]}]
    (tmp_path / "other.json").write_text(json.dumps(other))
    with pytest.raises(ParseError, match=r"compose.include\[0\].valueSet"):
        load_source(value_sets, settings, "valueset", [tmp_path / "other.json"], "2026-02")
    nodes, rels = graph_counts(value_sets, settings.neo4j_database)
    assert (nodes, rels) == (before[0] + 2, before[1])  # only the two failed runs' LoadRun records remain
