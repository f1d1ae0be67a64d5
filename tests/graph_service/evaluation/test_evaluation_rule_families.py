"""POST /v1/assignments/evaluate, one rule family at a time: each test seeds one violation and sees the finding
with the rule node that produced it (and the guideline sections of its check); a clean assignment is accepted."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from neo4j import Driver

from tests.graph_service.evaluation.cases import body, evaluation, evidence, findings
from tests.graph_service.lane import post_both_ways

PNEUMONIA = [evidence("x-pna", "icd10cm", "J18.9"), evidence("x-htn", "icd10cm", "I10")]


def evaluate(client: TestClient, headers: dict[str, str], payload: dict[str, Any]) -> dict[str, Any]:
    return evaluation(post_both_ways(client, "/v1/assignments/evaluate", payload, headers))


def test_a_clean_supported_assignment_is_accepted(evaluation_graph: Driver, client: TestClient,
                                                  engine: dict[str, str]) -> None:
    out = evaluate(client, engine, body(("J18.9", ["x-pna"]), [("I10", ["x-htn"])], evidence_items=PNEUMONIA))
    assert out["overall"] == "accept", out["recommendations"]
    assert [out[f]["status"] for f in ("valid", "compliant", "supported", "optimal")] == ["pass"] * 4
    assert out["drg"]["drg"] == "195" and out["drg"]["release"] == "msdrg@FY2026"
    (drg,) = findings(out, "optimal", "drg")
    assert drg["rule"] == {**drg["rule"], "id": "v43|195", "kind": "MSDRG", "label": "MSDRG"}


def test_valid_a_code_the_release_lacks_rejects_the_assignment(evaluation_graph: Driver, client: TestClient,
                                                               engine: dict[str, str]) -> None:
    out = evaluate(client, engine, body(("J18.9", ["x-pna"]), [("K35.80", [])], evidence_items=PNEUMONIA))
    (f,) = findings(out, "valid", "code_in_release")
    assert (f["severity"], f["codes"], f["rule"]["id"], f["rule"]["label"]) == (
        "error", ["K35.80"], "icd10cm@FY2026", "Release")
    assert f["check_node"] == "coding_rules@FY2026|code_in_release"
    assert out["overall"] == "reject"


def test_valid_a_header_is_not_billable(evaluation_graph: Driver, client: TestClient, engine: dict[str, str]) -> None:
    out = evaluate(client, engine, body(("J18.9", ["x-pna"]), [("J96.0", [])], evidence_items=PNEUMONIA))
    (f,) = findings(out, "valid", "billable")
    assert f["codes"] == ["J96.0"] and "a more specific code is required" in f["explanation"]
    assert [g["section"] for g in f["guidelines"]] == ["I.B.2"]


def test_compliant_excludes1_names_the_note_and_guideline_i_a_12_a(evaluation_graph: Driver, client: TestClient,
                                                                   engine: dict[str, str]) -> None:
    items = [*PNEUMONIA, evidence("x-dm1", "icd10cm", "E10.9"), evidence("x-dm2", "icd10cm", "E11.9")]
    out = evaluate(client, engine, body(("J18.9", ["x-pna"]), [("I10", ["x-htn"]), ("E10.9", ["x-dm1"]),
                                                                 ("E11.9", ["x-dm2"])], evidence_items=items))
    (f,) = findings(out, "compliant", "excludes1")
    assert f["severity"] == "error" and sorted(f["codes"]) == ["E10.9", "E11.9"]
    assert f["rule"]["kind"] == "ICD-10-CM note" and f["rule"]["release"] == "icd10cm@FY2026"
    assert f["rule"]["detail"]["type"] == "EXCLUDES1"
    assert [(g["section"], g["node"]) for g in f["guidelines"]] == [("I.A.12.a", "coding_rules@FY2026|I.A.12.a")]
    assert out["compliant"]["status"] == "fail" and out["overall"] == "review"


def test_compliant_use_additional_code_unmet_needs_review(evaluation_graph: Driver, client: TestClient,
                                                          engine: dict[str, str]) -> None:
    items = [*PNEUMONIA, evidence("x-dm2", "icd10cm", "E11.9")]
    out = evaluate(client, engine, body(("J18.9", ["x-pna"]), [("I10", ["x-htn"]), ("E11.9", ["x-dm2"])],
                                        evidence_items=items))
    (f,) = findings(out, "compliant", "use_additional")
    assert f["codes"] == ["E11.9"] and f["needs_review"] and "Z79.4" in f["explanation"]
    assert [g["section"] for g in f["guidelines"]] == ["I.A.13"]


def test_compliant_code_first_a_manifestation_sequenced_before_its_etiology(evaluation_graph: Driver,
                                                                            client: TestClient,
                                                                            engine: dict[str, str]) -> None:
    items = [*PNEUMONIA, evidence("x-dem", "icd10cm", "F02.80"), evidence("x-alz", "icd10cm", "G30.9")]
    out = evaluate(client, engine, body(("J18.9", ["x-pna"]), [("F02.80", ["x-dem"]), ("G30.9", ["x-alz"])],
                                        evidence_items=items))
    (f,) = findings(out, "compliant", "code_first")
    assert (f["severity"], f["codes"], f["needs_review"]) == ("error", ["F02.80", "G30.9"], False)
    assert "sequence G30.9 before it" in f["explanation"]
    assert f["rule"]["kind"] == "ICD-10-CM note" and f["rule"]["release"] == "icd10cm@FY2026"
    assert (f["rule"]["detail"]["type"], f["rule"]["detail"]["noted_on"], f["rule"]["detail"]["targets"]) == (
        "CODE_FIRST", "F02", ["G30"])
    assert f["check_node"] == "coding_rules@FY2026|code_first"
    assert [(g["section"], g["node"]) for g in f["guidelines"]] == [("I.A.13", "coding_rules@FY2026|I.A.13")]
    assert out["compliant"]["status"] == "fail"
    # The etiology first: the instruction is met, no finding.
    out = evaluate(client, engine, body(("J18.9", ["x-pna"]), [("G30.9", ["x-alz"]), ("F02.80", ["x-dem"])],
                                        evidence_items=items))
    assert findings(out, "compliant", "code_first") == []


def test_compliant_code_first_without_the_underlying_condition_needs_review(evaluation_graph: Driver,
                                                                            client: TestClient,
                                                                            engine: dict[str, str]) -> None:
    items = [*PNEUMONIA, evidence("x-dem", "icd10cm", "F02.80")]
    out = evaluate(client, engine, body(("J18.9", ["x-pna"]), [("F02.80", ["x-dem"])], evidence_items=items))
    (f,) = findings(out, "compliant", "code_first")
    assert (f["severity"], f["codes"], f["needs_review"]) == ("warning", ["F02.80"], True)
    assert "Alzheimer's disease (G30.-)" in f["explanation"] and f["rule"]["detail"]["noted_on"] == "F02"
    assert out["compliant"]["status"] == "review"


def test_compliant_the_medicare_code_editor_flags_an_age_conflict(evaluation_graph: Driver, client: TestClient,
                                                                  engine: dict[str, str]) -> None:
    items = [*PNEUMONIA, evidence("x-bph", "icd10cm", "N40.0")]
    out = evaluate(client, engine, body(("J18.9", ["x-pna"]), [("I10", ["x-htn"]), ("N40.0", ["x-bph"])],
                                        evidence_items=items, sex="male", age=5))
    (f,) = findings(out, "compliant", "medicare_code_editor")
    assert f["severity"] == "error" and f["codes"] == ["N40.0"] and f["rule"]["kind"] == "MCE edit"
    # The rule names the MCE in force on the discharge date (its fiscal year), as a release id reads.
    assert (f["rule"]["id"], f["rule"]["release"]) == ("mce@FY2026|AGE_CONFLICT", "mce@FY2026")
    assert [g["section"] for g in f["guidelines"]] == ["I.A.13", "II"]


def test_compliant_missing_present_on_admission(evaluation_graph: Driver, client: TestClient,
                                                engine: dict[str, str]) -> None:
    out = evaluate(client, engine, body(("J18.9", ["x-pna"]), [("I10", ["x-htn"])], evidence_items=PNEUMONIA,
                                        poa=None))
    (f,) = findings(out, "compliant", "poa")
    assert f["codes"] == ["J18.9", "I10"] and [g["section"] for g in f["guidelines"]] == ["App.I"]
    assert out["overall"] == "accept_with_warnings"


def test_compliant_mue_over_the_limit_names_the_mue_node(evaluation_graph: Driver, client: TestClient,
                                                         engine: dict[str, str]) -> None:
    items = [*PNEUMONIA, evidence("x-visit", "cpt", "99213")]
    out = evaluate(client, engine, body(("J18.9", ["x-pna"]), [("I10", ["x-htn"])], evidence_items=items,
                                        lines=[{"code": "99213", "units": 2, "evidence": ["x-visit"]}]))
    (f,) = findings(out, "compliant", "ncci_mue")
    assert (f["rule"]["id"], f["rule"]["label"], f["rule"]["detail"]["mai"]) == (
        "ncci_mue@2026Q1|practitioner|99213", "MUE", 3)
    assert f["lines"] == ["1"]


def test_compliant_ptp_indicator_1_lists_the_modifier_rules_that_would_bypass(
    evaluation_graph: Driver, client: TestClient, engine: dict[str, str]
) -> None:
    items = [*PNEUMONIA, evidence("x-visit", "cpt", "99213"), evidence("x-draw", "cpt", "36415")]
    out = evaluate(client, engine, body(("J18.9", ["x-pna"]), [("I10", ["x-htn"])], evidence_items=items, lines=[
        {"code": "99213", "evidence": ["x-visit"]}, {"code": "36415", "evidence": ["x-draw"]}]))
    (f,) = findings(out, "compliant", "ncci_ptp")
    assert f["severity"] == "error" and f["lines"] == ["1", "2"] and "line 2 is denied" in f["explanation"]
    assert f["rule"]["kind"] == "NCCI PTP row" and f["rule"]["detail"]["modifier_indicator"] == 1
    assert f["rule"]["id"] == "ncci_ptp@2026Q1|practitioner|99213|36415|2013-01-01"
    cited = {c["detail"]["modifier"]: c for c in f["cited"]}
    assert {"59", "XE", "XS", "XP", "XU", "LT", "RT"} <= set(cited) and "50" not in cited
    assert cited["XU"]["id"] == "coding_rules@FY2026|XU" and cited["XU"]["label"] == "ModifierRule"
    # 59 on the column-2 line bypasses it: a warning that the documentation must show a distinct service.
    out = evaluate(client, engine, body(("J18.9", ["x-pna"]), [("I10", ["x-htn"])], evidence_items=items, lines=[
        {"code": "99213", "evidence": ["x-visit"]}, {"code": "36415", "modifiers": ["59"], "evidence": ["x-draw"]}]))
    (f,) = findings(out, "compliant", "ncci_ptp")
    assert f["severity"] == "warning" and f["needs_review"] and [c["id"] for c in f["cited"]] == [
        "coding_rules@FY2026|59"]


def test_compliant_lt_and_rt_on_one_line(evaluation_graph: Driver, client: TestClient,
                                         engine: dict[str, str]) -> None:
    items = [*PNEUMONIA, evidence("x-visit", "cpt", "99213")]
    out = evaluate(client, engine, body(("J18.9", ["x-pna"]), [("I10", ["x-htn"])], evidence_items=items, lines=[
        {"code": "99213", "modifiers": ["LT", "RT"], "evidence": ["x-visit"]}]))
    (f,) = findings(out, "compliant", "modifiers")
    assert f["severity"] == "error" and sorted(c["id"] for c in f["cited"]) == [
        "coding_rules@FY2026|LT", "coding_rules@FY2026|RT"]


def test_supported_a_code_without_evidence(evaluation_graph: Driver, client: TestClient,
                                           engine: dict[str, str]) -> None:
    out = evaluate(client, engine, body(("J18.9", ["x-pna"]), [("I10", ["x-htn"]), ("E11.9", [])],
                                        evidence_items=PNEUMONIA))
    f = [x for x in findings(out, "supported", "evidence_for_code") if x["codes"] == ["E11.9"]]
    assert len(f) == 1 and f[0]["severity"] == "warning" and "no supporting evidence" in f[0]["explanation"]
    assert [g["section"] for g in f[0]["guidelines"]] == ["I.A.19"]


def test_supported_documented_but_not_coded(evaluation_graph: Driver, client: TestClient,
                                            engine: dict[str, str]) -> None:
    out = evaluate(client, engine, body(("J18.9", ["x-pna"]), [], evidence_items=PNEUMONIA))
    (f,) = findings(out, "supported", "uncoded_evidence")
    assert (f["codes"], f["evidence"]) == (["I10"], ["x-htn"])
    assert findings(out, "optimal", "missed_cc_mcc") == []  # I10 is no CC: nothing changes the DRG


def test_optimal_a_documented_mcc_not_coded_is_the_drg_changing_alternative(
    evaluation_graph: Driver, client: TestClient, engine: dict[str, str]
) -> None:
    items = [*PNEUMONIA, evidence("x-arf", "icd10cm", "J96.01")]
    out = evaluate(client, engine, body(("J18.9", ["x-pna"]), [("I10", ["x-htn"])], evidence_items=items))
    (f,) = findings(out, "optimal", "missed_cc_mcc")
    assert f["severity"] == "opportunity" and f["codes"] == ["J96.01"] and f["evidence"] == ["x-arf"]
    assert (f["rule"]["id"], f["rule"]["label"], f["rule"]["detail"]["level"]) == (
        "v43|J96.01", "SeverityDesignation", "MCC")
    alt = f["alternative"]
    assert (alt["drg"], alt["delta_weight"]) == ("193", round(1.3144 - 0.6285, 4))
    assert alt["delta_payment"] > 0 and alt["supported_by"] == ["x-arf"]
    assert out["optimal"]["status"] == "review" and out["overall"] == "review"


def test_optimal_never_offers_an_alternative_the_evidence_does_not_document(
    evaluation_graph: Driver, client: TestClient, engine: dict[str, str]
) -> None:
    # J96.01 is coded without any evidence: it is neither resequenced nor offered, only reported unsupported.
    out = evaluate(client, engine, body(("J18.9", ["x-pna"]), [("I10", ["x-htn"]), ("J96.01", [])],
                                        evidence_items=PNEUMONIA))
    assert findings(out, "optimal", "resequence_principal") == [] and findings(out, "optimal", "missed_cc_mcc") == []


def test_optimal_resequencing_a_documented_admission_reason(evaluation_graph: Driver, client: TestClient,
                                                            engine: dict[str, str]) -> None:
    items = [evidence("x-arf", "icd10cm", "J96.01"), evidence("x-pna", "icd10cm", "J18.9", admission_reason=True)]
    out = evaluate(client, engine, body(("J96.01", ["x-arf"]), [("J18.9", ["x-pna"])], evidence_items=items))
    assert out["drg"]["drg"] == "189"
    (f,) = findings(out, "optimal", "resequence_principal")
    assert f["needs_review"] and f["alternative"]["drg"] == "193" and f["rule"]["id"] == "v43|193"
    assert [g["section"] for g in f["guidelines"]] == ["II", "II.C"]


def test_bad_input_is_422_naming_the_field(evaluation_graph: Driver, client: TestClient,
                                           engine: dict[str, str]) -> None:
    payload = body(("J18.9", ["x-pna"]), evidence_items=PNEUMONIA)
    payload["codes"]["principal"]["poaa"] = "Y"
    r = post_both_ways(client, "/v1/assignments/evaluate", payload, engine)
    assert r.status_code == 422 and "poaa" in r.text
    payload = body(("J18.9", ["x-pna"]), evidence_items=PNEUMONIA)
    payload["encounter_id"] = "enc-1"
    assert post_both_ways(client, "/v1/assignments/evaluate", payload, engine).status_code == 422
