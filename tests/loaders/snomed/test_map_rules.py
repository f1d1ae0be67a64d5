"""ICD-10-CM extended-map rules: parsing, and per-group targets for patients of given age, sex and conditions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest

from loaders.snomed.map_rules import (
    Age,
    AgeClause,
    ConceptClause,
    Conjunction,
    GroupResult,
    MapRuleSyntaxError,
    MapStatus,
    OtherwiseTrue,
    Outcome,
    PatientContext,
    SexClause,
    TrueRule,
    evaluate_map,
    evaluate_map_group,
    parse_map_rule,
)
from loaders.snomed.rf2 import SnomedMapRow, read_extended_map, read_is_a

SNAPSHOT = (
    Path(__file__).resolve().parents[2]
    / "fixtures"
    / "snomed"
    / "SnomedCT_USEditionRF2_PRODUCTION_20250301T120000Z"
    / "Snapshot"
)
MAP = SNAPSHOT / "Refset" / "Map" / "der2_iisssccRefset_ExtendedMapSnapshot_US1000124_20250301.txt"
RELATIONSHIPS = SNAPSHOT / "Terminology" / "sct2_Relationship_Snapshot_US1000124_20250301.txt"
ONSET = "IFA 445518008 | Age at onset of clinical finding (observable entity) |"

ROWS: dict[str, list[SnomedMapRow]] = defaultdict(list)
for _row in read_extended_map(MAP):
    ROWS[_row.concept_id].append(_row)
PARENTS: dict[str, set[str]] = defaultdict(set)
for _link in read_is_a(RELATIONSHIPS):
    if _link.active:
        PARENTS[_link.child_id].add(_link.parent_id)


def patient_has(*conditions: str) -> Callable[[str], bool]:
    """The caller's IS-A closure, here from the fixture: a condition counts for itself and every ancestor."""
    closure: set[str] = set()
    stack = list(conditions)
    while stack:
        concept = stack.pop()
        if concept not in closure:
            closure.add(concept)
            stack.extend(PARENTS[concept])
    return closure.__contains__


NOTHING = patient_has()
GIRL_4_MONTHS = PatientContext(age=Age(4, "months"), sex="female")
ADULT_MAN = PatientContext(age=Age(45, "years"), sex="male")
NEWBORN_10_DAYS = PatientContext(age=Age(10, "days"), sex="male")


def only(results: list[GroupResult]) -> GroupResult:
    assert len(results) == 1
    return results[0]


def targets(concept: str, context: PatientContext, has: Callable[[str], bool] = NOTHING) -> list[str | None]:
    return [result.target for result in evaluate_map(ROWS[concept], context, has)]


# --- parsing -------------------------------------------------------------------------------------------------------


def test_true_and_otherwise_true() -> None:
    assert parse_map_rule("TRUE") == TrueRule()
    assert parse_map_rule("OTHERWISE TRUE") == OtherwiseTrue()


@pytest.mark.parametrize("op", ["<", "<=", "=", ">", ">="])
@pytest.mark.parametrize("unit", ["years", "months", "days"])
def test_age_clauses_with_every_operator_and_unit(op: str, unit: str) -> None:
    assert parse_map_rule(f"{ONSET} {op} 28.0 {unit}") == AgeClause("445518008", op, Fraction(28), unit)  # type: ignore[arg-type]


def test_sex_concept_and_conjunction() -> None:
    rule = parse_map_rule(
        "IFA 248152002 | Female (finding) | AND IFA 38341003 | Hypertensive disorder, systemic arterial (disorder) |"
    )
    assert rule == Conjunction(
        (SexClause("female"), ConceptClause("38341003", "Hypertensive disorder, systemic arterial (disorder)"))
    )
    assert parse_map_rule("IFA 248153007 | Male (finding) |") == SexClause("male")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("IFA 195967001 | Asthma (disorder) | OR IFA 13645005 | COPD |", "expected ' AND ' or the end"),
        (f"{ONSET} < 1.0 decades", "needs '<op> <number> years|months|days'"),
        (ONSET, "age concept 445518008 needs"),
        ("IFA 248152002 | Female (finding) | > 3.0 years", "not an age concept"),
        ("IFA 248152002 Female (finding)", "expected 'IFA <sctid> | <term> |'"),
        ("true", "expected 'IFA <sctid> | <term> |'"),
        ("OTHERWISE TRUE AND IFA 248152002 | Female (finding) |", "expected 'IFA <sctid> | <term> |'"),
    ],
)
def test_rules_outside_the_grammar_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(MapRuleSyntaxError) as caught:
        parse_map_rule(text)
    assert reason in caught.value.reason


# --- ages ----------------------------------------------------------------------------------------------------------


def test_a_4_month_old_is_a_third_of_a_year_and_about_122_days() -> None:
    age = Age(4, "months")
    assert age.in_unit("years") == Fraction(1, 3)
    assert round(float(age.in_unit("days")), 2) == 121.75
    assert Age(0.5, "years").in_unit("months") == 6
    with pytest.raises(ValueError):
        Age(-1, "days")


# --- evaluation ----------------------------------------------------------------------------------------------------


def test_a_4_month_old_girl_with_otitis_media_meets_the_age_and_sex_conjunction() -> None:
    result = only(evaluate_map(ROWS["65363002"], GIRL_4_MONTHS, NOTHING))
    assert (result.status, result.target) == (MapStatus.MAPPED, "H66.90")
    assert result.advice.startswith("IF AGE AT ONSET OF CLINICAL FINDING BEFORE 1.0 YEARS AND IF FEMALE CHOOSE H66.90")
    assert [check.priority for check in result.explanation] == [1]
    assert "4 months = 0.333 years < 1 years: true" in result.explanation[0].why
    assert targets("271737000", GIRL_4_MONTHS) == ["P61.9"]  # anemia before 1 year


def test_a_4_month_old_boy_falls_through_to_the_empty_otherwise_row() -> None:
    boy = PatientContext(age=Age(4, "months"), sex="male")
    result = only(evaluate_map(ROWS["65363002"], boy, NOTHING))
    assert (result.status, result.target, result.row.priority) == (MapStatus.NO_TARGET, None, 5)
    assert [check.outcome for check in result.explanation] == [Outcome.FALSE] * 4 + [Outcome.TRUE]


def test_an_adult_man_gets_the_adult_and_male_targets() -> None:
    result = only(evaluate_map(ROWS["65363002"], ADULT_MAN, NOTHING))
    assert (result.target, result.row.priority) == ("H66.93", 4)  # >= 18 years; not > 64
    assert targets("8619003", ADULT_MAN) == ["N46.9"]
    assert targets("271737000", ADULT_MAN) == ["D64.9"]
    assert targets("233604007", ADULT_MAN) == ["J18.9"]


def test_six_months_given_as_half_a_year_meets_an_equals_rule_in_months() -> None:
    baby = PatientContext(age=Age("0.5", "years"), sex="male")
    assert targets("65363002", baby) == ["H66.91"]


def test_a_newborn_at_10_days_gets_the_perinatal_codes() -> None:
    assert targets("18165001", NEWBORN_10_DAYS) == ["P59.9"]
    assert targets("233604007", NEWBORN_10_DAYS) == ["P23.9"]
    assert targets("91302008", NEWBORN_10_DAYS) == ["P36.9"]
    assert targets("386661006", NEWBORN_10_DAYS) == ["P81.9"]
    assert targets("271737000", NEWBORN_10_DAYS) == ["P61.9"]  # 10 days < 1.0 years


def test_day_28_is_inside_an_on_or_before_rule_and_outside_a_before_rule() -> None:
    day_28 = PatientContext(age=Age(28, "days"))
    assert targets("18165001", day_28) == ["P59.9"]  # <= 28.0 days
    assert targets("233604007", day_28) == ["J18.9"]  # < 28.0 days


def test_age_at_onset_is_used_when_given_apart_from_current_age() -> None:
    context = PatientContext(age=Age(40, "years"), age_at_onset=Age(10, "days"))
    result = only(evaluate_map(ROWS["18165001"], context, NOTHING))
    assert result.target == "P59.9" and result.explanation[0].why.startswith("age at onset 10 days")


def test_the_otherwise_true_fallback_when_the_age_rule_fails() -> None:
    result = only(evaluate_map(ROWS["233604007"], PatientContext(age=Age(3, "years")), NOTHING))
    assert (result.target, result.advice) == ("J18.9", "MAP OF SOURCE CONCEPT IS CONTEXT DEPENDENT")
    assert [(c.priority, c.outcome) for c in result.explanation] == [(1, Outcome.FALSE), (2, Outcome.TRUE)]


def test_a_subtype_of_the_rule_concept_counts_and_both_groups_give_codes() -> None:
    has = patient_has("127013003", "59621000", "431855005")  # essential hypertension, CKD stage 1
    results = evaluate_map(ROWS["127013003"], ADULT_MAN, has)
    assert [(r.group, r.status, r.target) for r in results] == [
        (1, MapStatus.MAPPED, "E11.21"),
        (2, MapStatus.MAPPED, "I12.9"),
    ]
    assert "patient has 38341003 | Hypertensive disorder, systemic arterial (disorder) | or a subtype: true" in (
        results[1].explanation[0].why
    )


def test_the_second_group_gives_no_code_without_kidney_disease() -> None:
    results = evaluate_map(ROWS["127013003"], ADULT_MAN, patient_has("127013003", "59621000"))
    assert [(r.status, r.target) for r in results] == [(MapStatus.MAPPED, "E11.21"), (MapStatus.NO_TARGET, None)]
    assert results[1].advice == "MAP SOURCE CONCEPT CANNOT BE CLASSIFIED WITH AVAILABLE DATA"


def test_pregnancy_through_a_subtype_and_the_retired_row_is_ignored() -> None:
    woman = PatientContext(age=Age(30, "years"), sex="female")
    assert targets("42343007", woman, patient_has("72892002")) == ["O99.419"]  # normal pregnancy is-a pregnancy
    assert targets("42343007", woman) == ["I50.9"]


def test_an_unreadable_rule_stops_the_group_for_review() -> None:
    result = only(evaluate_map(ROWS["36971009"], ADULT_MAN, patient_has("195967001")))
    assert (result.status, result.target, result.row) == (MapStatus.NEEDS_REVIEW, None, None)
    assert "rule not understood" in (result.reason or "")
    assert result.explanation[0].outcome is Outcome.UNPARSEABLE
    assert [row.target for row in result.remaining] == ["J32.9", "J01.90"]  # OTHERWISE TRUE is not taken


def test_a_missing_age_is_never_taken_as_true() -> None:
    result = only(evaluate_map(ROWS["233604007"], PatientContext(sex="male"), NOTHING))
    assert result.status is MapStatus.NEEDS_REVIEW and "age not given" in (result.reason or "")
    assert [row.priority for row in result.remaining] == [1, 2]


def test_an_unknown_sex_needs_review_unless_another_clause_already_failed() -> None:
    unknown_adult = PatientContext(age=Age(45, "years"))
    assert only(evaluate_map(ROWS["8619003"], unknown_adult, NOTHING)).status is MapStatus.NEEDS_REVIEW
    assert targets("65363002", unknown_adult) == ["H66.93"]  # the age clause is false, so the conjunction is


def test_true_with_an_empty_target_means_no_code() -> None:
    assert only(evaluate_map(ROWS["64572001"], ADULT_MAN, NOTHING)).status is MapStatus.NO_TARGET


def _row(priority: int, rule: str, target: str | None) -> SnomedMapRow:
    return SnomedMapRow(
        f"id-{priority}", "1", 1, priority, rule, "", target, "447561005", "447639009", True, date(2025, 3, 1)
    )


def test_a_group_where_no_rule_holds_needs_review() -> None:
    result = evaluate_map_group([_row(1, "IFA 248152002 | Female (finding) |", "N97.9")], ADULT_MAN, NOTHING)
    assert result.status is MapStatus.NEEDS_REVIEW and "no rule of group 1 holds" in (result.reason or "")


def test_two_rows_with_one_priority_need_review() -> None:
    rows: Iterable[SnomedMapRow] = [_row(1, "TRUE", "I10"), _row(1, "TRUE", "I11.9")]
    assert evaluate_map_group(list(rows), ADULT_MAN, NOTHING).status is MapStatus.NEEDS_REVIEW


def test_rows_of_two_concepts_are_refused() -> None:
    with pytest.raises(ValueError):
        evaluate_map(ROWS["84114007"] + ROWS["85232009"], ADULT_MAN, NOTHING)
