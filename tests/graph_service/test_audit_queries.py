"""The auditors' questions over known coding histories: DRG shifts above $5,000 with the evidence for each
added code, encounter traces, unsupported codes, coder patterns, codes a newer release retires.

Stays come from the synthetic generator; their coding histories are written here, line by line, and loaded
with the bulk coding loader, which groups every version through the DRG service on the real FY2026 weights
(payment = weight x $7,276.76). So each expected delta below is a difference of two Table 5 weights.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from demo_data.scenarios import DX
from demo_data.stays import Stay, generate_stay
from demo_data.synthetic_encounters import write_fhir_shard
from loaders.registry import load_source
from tests.conftest import wipe_graph
from tests.loaders.test_coding_bulk_load import load_msdrg_fy2026

SEED, START, DAYS = 5, date(2025, 10, 1), 360
SNOMED = (Path(__file__).resolve().parents[1] / "fixtures" / "snomed"
          / "SnomedCT_USEditionRF2_PRODUCTION_20250301T120000Z")
WEIGHTS = {"291": 1.2838, "292": 0.8490, "293": 0.5660, "193": 1.3144, "195": 0.6285, "321": 2.7208, "322": 1.7630,
           "689": 1.1603, "872": 1.0233, "192": 0.6420}


def payment(drg: str) -> float:
    return round(WEIGHTS[drg] * 7276.76, 2)


def delta(before: str, after: str) -> float:
    return round(payment(after) - payment(before), 2)


@dataclass
class Picked:
    stay: Stay

    @property
    def id(self) -> str:
        return f"enc-{self.stay.number:07d}"

    def condition(self, code: str) -> str:
        return next(f"Condition/{c['id']}#icd10cm:{code}" for c in self.stay.resources["Condition"]
                    if c["code"]["coding"][-1]["code"] == code)

    def lab(self, loinc: str) -> str:
        return next(f"Observation/{o['id']}#loinc:{loinc}" for o in self.stay.resources["Observation"]
                    if o["code"]["coding"][0]["code"] == loinc)

    def procedure(self, code: str) -> str:
        return next(f"Procedure/{p['id']}#icd10pcs:{code}" for p in self.stay.resources["Procedure"]
                    if p["code"]["coding"][0]["code"] == code)

    def codes(self) -> set[str]:
        return {c["code"]["coding"][-1]["code"] for c in self.stay.resources["Condition"]}

    @property
    def payer(self) -> str:
        return self.stay.resources["Coverage"][0]["payor"][0]["identifier"]["value"]


def pick(taken: set[int], scenario: str, needs: Callable[[Picked], bool] = lambda _: True) -> Picked:
    for number in range(1, 5000):
        candidate = Picked(generate_stay(SEED, number, START, DAYS))
        disposition = candidate.stay.resources["Encounter"][0]["hospitalization"]["dischargeDisposition"]
        if (number not in taken and candidate.stay.scenario == scenario and needs(candidate)
                and disposition["coding"][0]["code"] != "exp"):
            taken.add(number)
            return candidate
    raise AssertionError(f"no {scenario} stay found")


def dx(code: str, role: str, seq: int, evidence: list[str]) -> dict[str, Any]:
    return {"code": code, "role": role, "sequence": seq, "poa": "Y", "evidence": evidence}


def line(enc: Picked, version: int, coder: str, codes: list[dict[str, Any]], day: int) -> dict[str, Any]:
    kind = "engine" if coder.startswith("engine") else "human"
    return {"encounter": enc.id, "version": version,
            "assignment": {"coder": {"id": coder, "kind": kind}, "status": "final" if version == 1 else "amended",
                           "created_at": f"2026-10-{day:02d}T10:00:00+00:00", "codes": codes}}


@dataclass
class Audit:
    stays: dict[str, Picked]
    client: TestClient
    headers: dict[str, str]

    def get(self, url: str, **params: Any) -> Any:
        response = self.client.get(url, params=params, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def audit(driver: Driver, settings: Settings, client: TestClient, auditor: dict[str, str],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audit]:
    taken: set[int] = set()
    s = {
        "hf_query": pick(taken, "heart failure", lambda p: "J96.01" in p.codes()),
        "hf_upcode": pick(taken, "heart failure"),
        "hf_cc_removed": pick(taken, "heart failure"),
        "pna_query": pick(taken, "pneumonia", lambda p: "J96.01" in p.codes()),
        "pna_upcode": pick(taken, "pneumonia"),
        "ami": pick(taken, "NSTEMI with PCI"),
        "sepsis": pick(taken, "sepsis", lambda p: "N39.0" in p.codes()),
        "copd": pick(taken, "COPD exacerbation", lambda p: "I10" in p.codes()),
    }
    hf1, hf2, hf3, pna1, pna2, ami, sep, copd = s.values()

    def pdx(p: Picked, code: str | None = None) -> dict[str, Any]:
        code = code or p.stay.resources["Condition"][0]["code"]["coding"][-1]["code"]
        return dx(code, "principal", 1, [p.condition(code)])

    pci = {"system": "icd10pcs", "code": "027034Z", "role": "procedure", "sequence": 1,
           "evidence": [ami.procedure("027034Z")]}
    e43 = dx("E43", "secondary", 2, [])  # nothing documents malnutrition
    j9601 = {1: dx("J96.01", "secondary", 2, [hf1.condition("J96.01"), hf1.lab("59408-5")]),
             2: dx("J96.01", "secondary", 2, [pna1.condition("J96.01"), pna1.lab("59408-5")])}
    lines = [
        line(hf1, 1, "engine-acme-3.2", [pdx(hf1)], 1),
        line(hf2, 1, "engine-acme-3.2", [pdx(hf2)], 1),
        line(hf3, 1, "engine-nova-1.0", [pdx(hf3), dx("E87.1", "secondary", 2, [])], 1),
        line(pna1, 1, "engine-acme-3.2", [pdx(pna1)], 1),
        line(pna2, 1, "engine-acme-3.2", [pdx(pna2)], 1),
        line(ami, 1, "engine-nova-1.0", [pdx(ami), pci], 1),
        line(sep, 1, "engine-acme-3.2", [pdx(sep, "N39.0"), dx("A41.9", "secondary", 2, [sep.condition("A41.9")])], 1),
        line(copd, 1, "engine-acme-3.2", [pdx(copd)], 1),
        line(hf1, 2, "coder-ben", [pdx(hf1), j9601[1]], 8),
        line(hf2, 2, "coder-cruz", [pdx(hf2), e43], 9),
        line(hf3, 2, "coder-ben", [pdx(hf3)], 9),
        line(pna1, 2, "coder-dana", [pdx(pna1), j9601[2]], 10),
        line(pna2, 2, "coder-cruz", [pdx(pna2), e43], 11),
        line(ami, 2, "coder-cruz", [pdx(ami), e43, pci], 12),
        line(sep, 2, "coder-dana", [pdx(sep, "A41.9"), dx("N39.0", "secondary", 2, [sep.condition("N39.0")])], 12),
        line(copd, 2, "coder-dana", [pdx(copd), dx("I10", "secondary", 2, [copd.condition("I10")])], 13),
        line(ami, 3, "coder-ava", [pdx(ami), pci], 20),
    ]
    tmp = tmp_path_factory.mktemp("audit")
    write_fhir_shard(tmp / "fhir" / "part-00000", [p.stay for p in s.values()])
    (tmp / "assignments.ndjson").write_text("".join(json.dumps(x) + "\n" for x in lines))
    fy2026 = tmp / "icd10cm-2026.txt"
    fy2026.write_text("".join(f"{d.code.replace('.', ''):<7} {d.title}\n" for d in DX.values()))
    fy2027 = tmp / "icd10cm-2027.txt"  # a fictional next release that deletes E43
    fy2027.write_text("".join(f"{d.code.replace('.', ''):<7} {d.title}\n" for d in DX.values() if d.code != "E43"))

    wipe_graph(driver, settings.neo4j_database)
    load_msdrg_fy2026(driver, settings)
    load_source(driver, settings, "snomed", [SNOMED], "20250301")
    load_source(driver, settings, "icd10cm", [fy2026], "FY2026")
    load_source(driver, settings, "icd10cm", [fy2027], "FY2027")
    load_source(driver, settings, "fhir", [tmp / "fhir"], "audit-1")
    report = load_source(driver, settings, "coding", [tmp / "assignments.ndjson"], "audit-1")
    assert report.counts["drg_grouped"] == len(lines)
    yield Audit(s, client, auditor)
    wipe_graph(driver, settings.neo4j_database)


def shift_rows(audit: Audit, **params: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """Every row of the audit, page after page (two rows a page, so that paging is always in play)."""
    rows, cursor = [], None
    while True:
        page = audit.get("/v1/audit/drg-shifts", limit=2, **params, **({"cursor": cursor} if cursor else {}))
        rows += page["rows"]
        if (cursor := page["next"]) is None:
            break
    return {(r["encounter"], r["after_assignment"].split("/bulk")[1][0]): r for r in rows}


def test_drg_shifts_over_5000_are_exactly_the_known_ones(audit: Audit) -> None:
    s = audit.stays
    rows = shift_rows(audit)
    assert {k: (r["before_drg"], r["after_drg"], r["payment_delta"]) for k, r in rows.items()} == {
        (s["hf_query"].id, "2"): ("293", "291", delta("293", "291")),  # +5,223.25: just over
        (s["hf_upcode"].id, "2"): ("293", "291", delta("293", "291")),
        (s["ami"].id, "2"): ("322", "321", delta("322", "321")),
        (s["ami"].id, "3"): ("321", "322", delta("321", "322")),  # the unsupported MCC taken back
    }
    assert 5000 < delta("293", "291") < 5300 and 4900 < delta("195", "193") < 5000
    first = audit.get("/v1/audit/drg-shifts")["rows"][0]
    assert abs(first["payment_delta"]) == delta("322", "321")  # largest change first


def test_a_shift_just_under_5000_appears_only_below_that_threshold(audit: Audit) -> None:
    s = audit.stays
    rows = shift_rows(audit, min_delta=4900)
    assert rows[(s["pna_query"].id, "2")]["payment_delta"] == delta("195", "193")  # +4,991.13
    assert rows[(s["pna_upcode"].id, "2")]["after_drg"] == "193"
    assert len(rows) == 6
    assert (s["hf_cc_removed"].id, "2") in shift_rows(audit, min_delta=2000)  # -2,059.32, a CC removed


def test_added_codes_come_with_their_evidence_and_sections(audit: Audit) -> None:
    s = audit.stays
    row = shift_rows(audit)[(s["hf_query"].id, "2")]
    assert row["coder"] == "coder-ben" and row["before_payment"] == payment("293")
    assert row["removed"] == []
    (added,) = row["added"]
    assert (added["code"], added["role"], added["poa"]) == ("J96.01", "secondary", "Y")
    support = {e["evidence"]: e["section"] for e in added["evidence"]}
    assert support == {s["hf_query"].condition("J96.01"): "Hospital Course", s["hf_query"].lab("59408-5"): None}
    upcoded = shift_rows(audit)[(s["hf_upcode"].id, "2")]
    assert upcoded["added"] == [{"code": "E43", "role": "secondary", "poa": "Y", "evidence": []}]
    taken_back = shift_rows(audit)[(s["ami"].id, "3")]
    assert (taken_back["coder"], [r["code"] for r in taken_back["removed"]]) == ("coder-ava", ["E43"])


def test_drg_shifts_filter_by_coder_and_payer(audit: Audit) -> None:
    s = audit.stays
    assert set(shift_rows(audit, coder="coder-cruz")) == {(s["hf_upcode"].id, "2"), (s["ami"].id, "2")}
    payer = s["hf_query"].payer
    expected = {k for k in shift_rows(audit) if audit.stays[next(n for n, p in s.items() if p.id == k[0])].payer
                == payer}
    assert set(shift_rows(audit, payer=payer)) == expected and expected


def test_encounter_trace_shows_documents_evidence_maps_versions_and_drgs(audit: Audit) -> None:
    enc = audit.stays["hf_query"]
    trace = audit.get(f"/v1/encounters/{enc.id}/trace")
    versions = trace["versions"]
    assert [(v["version"], v["coder"], v["drg"]) for v in versions] == [(1, "engine-acme-3.2", "293"),
                                                                       (2, "coder-ben", "291")]
    assert versions[1]["supersedes"] == versions[0]["assignment"]
    assert versions[1]["drg_title"] == "HEART FAILURE AND SHOCK WITH MCC"
    assert versions[1]["expected_payment"] == payment("291")
    j96 = next(c for c in versions[1]["codes"] if c["code"] == "J96.01")
    assert set(j96["supported_by"]) == {enc.condition("J96.01"), enc.lab("59408-5")}
    evidence = {e["evidence"]: e for e in trace["evidence"]}
    chf = evidence[next(x for x in evidence if x.startswith("Condition/") and "#snomed:" in x
                        and x.startswith(f"Condition/cond-{enc.stay.number:07d}-0"))]
    assert chf["note_type"] == "18842-5" and chf["section"] == "Hospital Course"
    # The SNOMED CT finding maps to ICD-10-CM through the fixture's extended map.
    assert {d["code"] for d in chf["derived_codes"]} >= {"I50.9"}


def test_unsupported_codes_are_the_current_codes_nothing_documents(audit: Audit) -> None:
    s = audit.stays
    rows = audit.get("/v1/audit/unsupported-codes")
    assert {(r["encounter"], r["code"], r["coder"]) for r in rows} == {
        (s["hf_upcode"].id, "E43", "coder-cruz"), (s["pna_upcode"].id, "E43", "coder-cruz")}


def test_the_upward_coder_stands_out_in_coder_patterns(audit: Audit) -> None:
    rows = audit.get("/v1/audit/coder-patterns")
    by_coder = {r["coder"]: r for r in rows}
    cruz = by_coder["coder-cruz"]
    assert rows[0]["coder"] == "coder-cruz"
    assert (cruz["revisions"], cruz["up"], cruz["down"]) == (3, 3, 0)
    assert all(cruz["avg_delta_vs_peers"] > r["avg_delta_vs_peers"] + 3000 for c, r in by_coder.items()
               if c != "coder-cruz")
    assert (by_coder["coder-ben"]["up"], by_coder["coder-ben"]["down"]) == (1, 1)


def test_current_assignments_using_a_code_the_next_release_deletes(audit: Audit) -> None:
    s = audit.stays
    rows = audit.get("/v1/audit/retired-codes", to_release="icd10cm@FY2027")
    assert {(r["encounter"], r["code"], r["change"]) for r in rows} == {
        (s["hf_upcode"].id, "E43", "deleted"), (s["pna_upcode"].id, "E43", "deleted")}
