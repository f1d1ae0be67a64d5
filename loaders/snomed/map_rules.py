"""The SNOMED CT to ICD-10-CM extended map's rules: parse ``mapRule`` text, then pick each map group's target.

Rule grammar (as published in the US map): ``TRUE``; ``OTHERWISE TRUE``; or clauses
``IFA <sctid> | <term> |`` joined by `` AND ``. An age clause (445518008 age at onset, 424144002 current
age) adds ``<op> <number> <years|months|days>``; 248152002 / 248153007 mean female / male; any other
concept means "the patient also has this concept or a subtype". Text outside that grammar is refused,
never guessed at, and a rule that needs context the caller did not give is never taken as true: the
group then stops with status ``needs_review`` (the public demo mapper treats such rules as true).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Literal, Protocol

AGE_AT_ONSET = "445518008"
CURRENT_AGE = "424144002"
FEMALE = "248152002"
MALE = "248153007"

AgeUnit = Literal["years", "months", "days"]
AgeOperator = Literal["<", "<=", "=", ">", ">="]
Sex = Literal["female", "male", "unknown"]

# Average calendar lengths: 1 year = 365.25 days = 12 months, so years <-> months stays exact.
_DAYS_PER: dict[str, Fraction] = {"days": Fraction(1), "months": Fraction(1461, 48), "years": Fraction(1461, 4)}
_COMPARE: dict[str, Callable[[Fraction, Fraction], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class MapRuleSyntaxError(ValueError):
    """A mapRule this engine does not understand; ``reason`` says where and why."""

    def __init__(self, reason: str, rule: str = "") -> None:
        self.reason = reason
        self.rule = rule
        super().__init__(f"{reason}: {rule!r}" if rule else reason)


@dataclass(frozen=True, slots=True)
class TrueRule:
    """``TRUE``: the row always applies."""


@dataclass(frozen=True, slots=True)
class OtherwiseTrue:
    """``OTHERWISE TRUE``: applies when no earlier row of the group did."""


@dataclass(frozen=True, slots=True)
class AgeClause:
    concept_id: str  # AGE_AT_ONSET or CURRENT_AGE
    op: AgeOperator
    value: Fraction  # exact: "28.0" -> 28
    unit: AgeUnit


@dataclass(frozen=True, slots=True)
class SexClause:
    sex: Literal["female", "male"]


@dataclass(frozen=True, slots=True)
class ConceptClause:
    concept_id: str
    term: str = ""  # as written in the rule, for explanations only


Clause = AgeClause | SexClause | ConceptClause


@dataclass(frozen=True, slots=True)
class Conjunction:
    clauses: tuple[Clause, ...]


MapRule = TrueRule | OtherwiseTrue | Clause | Conjunction

_CLAUSE = re.compile(
    r"IFA\s+(?P<id>[1-9]\d{5,17})\s*\|(?P<term>[^|]*)\|"
    r"(?:\s*(?P<op><=|>=|<|>|=)\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>years|months|days))?"
)
_AND = re.compile(r"\s+AND\s+")


def _clause(match: re.Match[str], text: str) -> Clause:
    concept_id, op = match["id"], match["op"]
    if concept_id in (AGE_AT_ONSET, CURRENT_AGE):
        if op is None:
            raise MapRuleSyntaxError(f"age concept {concept_id} needs '<op> <number> years|months|days'", text)
        return AgeClause(concept_id, op, Fraction(Decimal(match["value"])), match["unit"])  # type: ignore[arg-type]
    if op is not None:
        raise MapRuleSyntaxError(f"comparison on {concept_id}, which is not an age concept", text)
    if concept_id in (FEMALE, MALE):
        return SexClause("female" if concept_id == FEMALE else "male")
    return ConceptClause(concept_id, match["term"].strip())


def parse_map_rule(text: str) -> MapRule:
    """The rule's AST; MapRuleSyntaxError for anything outside the grammar (OR, NOT, unknown units, ...)."""
    rule = text.strip()
    if rule == "TRUE":
        return TrueRule()
    if rule == "OTHERWISE TRUE":
        return OtherwiseTrue()
    clauses: list[Clause] = []
    position = 0
    while True:
        match = _CLAUSE.match(rule, position)
        if match is None:
            raise MapRuleSyntaxError(f"expected 'IFA <sctid> | <term> |' at character {position + 1}", text)
        clauses.append(_clause(match, text))
        position = match.end()
        if position == len(rule):
            break
        joiner = _AND.match(rule, position)
        if joiner is None:
            raise MapRuleSyntaxError(f"expected ' AND ' or the end at character {position + 1}", text)
        position = joiner.end()
    return clauses[0] if len(clauses) == 1 else Conjunction(tuple(clauses))


@dataclass(frozen=True, slots=True)
class Age:
    """An age as the caller knows it (e.g. 4 months); compared in whatever unit a rule uses."""

    value: Fraction
    unit: AgeUnit

    def __init__(self, value: int | float | str | Decimal | Fraction, unit: AgeUnit) -> None:
        if unit not in _DAYS_PER:
            raise ValueError(f"age unit must be years, months or days, not {unit!r}")
        exact = Fraction(str(value)) if isinstance(value, float) else Fraction(value)
        if exact < 0:
            raise ValueError(f"age cannot be negative: {value}")
        object.__setattr__(self, "value", exact)
        object.__setattr__(self, "unit", unit)

    def in_unit(self, unit: AgeUnit) -> Fraction:
        if unit == self.unit:
            return self.value
        return self.value * _DAYS_PER[self.unit] / _DAYS_PER[unit]


@dataclass(frozen=True, slots=True)
class PatientContext:
    age: Age | None = None  # current age (at the encounter)
    sex: Sex = "unknown"
    age_at_onset: Age | None = None  # when unknown, rules on age at onset use the current age (as NLM's I-MAGIC does)

    def __post_init__(self) -> None:
        if self.sex not in ("female", "male", "unknown"):
            raise ValueError(f"sex must be 'female', 'male' or 'unknown', not {self.sex!r}")


class MapRowLike(Protocol):
    @property
    def concept_id(self) -> str: ...
    @property
    def group(self) -> int: ...
    @property
    def priority(self) -> int: ...
    @property
    def rule(self) -> str: ...
    @property
    def advice(self) -> str: ...
    @property
    def target(self) -> str | None: ...
    @property
    def active(self) -> bool: ...


class Outcome(StrEnum):
    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"  # the rule needs context the caller did not give
    UNPARSEABLE = "unparseable"


class MapStatus(StrEnum):
    MAPPED = "mapped"  # a rule held and its row has a target
    NO_TARGET = "no_target"  # a rule held and its row says: no ICD-10-CM code for this group
    NEEDS_REVIEW = "needs_review"  # a rule could not be read or evaluated, or none held


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """One evaluated row: its rule, the outcome and why."""

    priority: int
    rule: str
    outcome: Outcome
    why: str
    target: str | None


@dataclass(frozen=True, slots=True)
class GroupResult:
    group: int
    status: MapStatus
    row: MapRowLike | None  # the row whose rule held (None when needs_review)
    target: str | None
    advice: str | None
    explanation: tuple[RuleCheck, ...]  # the rows evaluated, in priority order
    reason: str | None = None  # why review is needed
    remaining: tuple[MapRowLike, ...] = field(default=())  # rows not decided, from the one that stopped us


def _number(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.3f}".rstrip("0")


def _check_clause(clause: Clause, context: PatientContext, has_concept: Callable[[str], bool]) -> tuple[Outcome, str]:
    if isinstance(clause, AgeClause):
        wanted = f"{clause.op} {_number(clause.value)} {clause.unit}"
        age, label = context.age, "current age"
        if clause.concept_id == AGE_AT_ONSET:
            age, label = (
                (context.age_at_onset, "age at onset") if context.age_at_onset is not None else (age, "age (for onset)")
            )
        if age is None:
            return Outcome.UNKNOWN, f"{label} {wanted}: age not given"
        mine = age.in_unit(clause.unit)
        held = _COMPARE[clause.op](mine, clause.value)
        shown = f"{_number(age.value)} {age.unit}" + (
            "" if age.unit == clause.unit else f" = {_number(mine)} {clause.unit}"
        )
        return Outcome(str(held).lower()), f"{label} {shown} {wanted}: {str(held).lower()}"
    if isinstance(clause, SexClause):
        if context.sex == "unknown":
            return Outcome.UNKNOWN, f"sex is {clause.sex}: sex not given"
        held = context.sex == clause.sex
        return Outcome(str(held).lower()), f"sex is {clause.sex} (patient: {context.sex}): {str(held).lower()}"
    held = has_concept(clause.concept_id)
    named = f"{clause.concept_id} | {clause.term} |" if clause.term else clause.concept_id
    return Outcome(str(held).lower()), f"patient has {named} or a subtype: {str(held).lower()}"


def _check_rule(rule: MapRule, context: PatientContext, has_concept: Callable[[str], bool]) -> tuple[Outcome, str]:
    if isinstance(rule, TrueRule):
        return Outcome.TRUE, "TRUE: always"
    if isinstance(rule, OtherwiseTrue):
        return Outcome.TRUE, "OTHERWISE TRUE: no earlier rule held"
    clauses = rule.clauses if isinstance(rule, Conjunction) else (rule,)
    checks = [_check_clause(clause, context, has_concept) for clause in clauses]
    outcomes = {outcome for outcome, _why in checks}
    # One false clause decides a conjunction even if another is unknown; otherwise unknown wins over true.
    overall = (
        Outcome.FALSE if Outcome.FALSE in outcomes else Outcome.UNKNOWN if Outcome.UNKNOWN in outcomes else Outcome.TRUE
    )
    return overall, "; ".join(why for _outcome, why in checks)


def evaluate_map_group(
    rows: Sequence[MapRowLike], context: PatientContext, has_concept: Callable[[str], bool]
) -> GroupResult:
    """The target of one map group: active rows by priority, the first rule that holds wins."""
    ordered = sorted((row for row in rows if row.active), key=lambda row: row.priority)
    if not ordered or len({(row.concept_id, row.group) for row in ordered}) != 1:
        raise ValueError("evaluate_map_group needs the active rows of exactly one concept's map group")
    group = ordered[0].group
    checks: list[RuleCheck] = []

    def review(reason: str, remaining: Sequence[MapRowLike]) -> GroupResult:
        return GroupResult(group, MapStatus.NEEDS_REVIEW, None, None, None, tuple(checks), reason, tuple(remaining))

    priorities = [row.priority for row in ordered]
    if len(set(priorities)) != len(priorities):
        return review(f"two active rows share a priority in group {group}: order unknown", ordered)
    for index, row in enumerate(ordered):
        try:
            rule = parse_map_rule(row.rule)
        except MapRuleSyntaxError as err:
            checks.append(RuleCheck(row.priority, row.rule, Outcome.UNPARSEABLE, err.reason, row.target))
            return review(f"priority {row.priority}: rule not understood ({err.reason})", ordered[index:])
        outcome, why = _check_rule(rule, context, has_concept)
        checks.append(RuleCheck(row.priority, row.rule, outcome, why, row.target))
        if outcome is Outcome.UNKNOWN:
            return review(f"priority {row.priority}: {why}", ordered[index:])
        if outcome is Outcome.TRUE:
            status = MapStatus.MAPPED if row.target else MapStatus.NO_TARGET
            return GroupResult(group, status, row, row.target, row.advice, tuple(checks))
    return review(f"no rule of group {group} holds (the group has no OTHERWISE TRUE row)", ())


def evaluate_map(
    rows_for_concept: Sequence[MapRowLike], context: PatientContext, has_concept: Callable[[str], bool]
) -> list[GroupResult]:
    """One result per map group of one concept, in group order (inactive rows are ignored)."""
    active = [row for row in rows_for_concept if row.active]
    if len({row.concept_id for row in active}) > 1:
        raise ValueError("evaluate_map takes the rows of one concept")
    groups = sorted({row.group for row in active})
    return [evaluate_map_group([row for row in active if row.group == g], context, has_concept) for g in groups]
