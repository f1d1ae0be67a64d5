"""The evaluation builds its response models from its own values without validating them again (``trusted``): the
answer a client reads must be the one validation would have built, field for field and byte for byte, for every
model the evaluation makes that way; anything else (a field missing, an unknown one) goes through pydantic."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from graph_service.models.evaluation import EvaluationOut, Finding, GuidelineRef, RuleRef, Verdict
from graph_service.services.evaluation.trusted import trusted

RULE = {"id": "icd10cm@FY2026|EXCLUDES1|A04->A00", "kind": "ICD-10-CM note", "label": None,
        "release": "icd10cm@FY2026", "source_file": None,
        "detail": {"noted_on": "A04", "target": "A00", "note": "cholera (A00.-)", "targets": ["A00"]}}
GUIDELINE = GuidelineRef(section="I.A.12.a", title="Excludes1", fiscal_year=2026, statement="never together",
                         node="coding_rules@FY2026|guideline|I.A.12.a")


def _finding(**over: Any) -> dict[str, Any]:
    return {"family": "compliant", "check": "excludes1", "severity": "error", "rule": RuleRef(**RULE),
            "check_node": "coding_rules@FY2026|check|excludes1", "guidelines": [GUIDELINE], "cited": [],
            "codes": ["A04.71", "A00.0"], "lines": [], "evidence": [], "explanation": "never coded together",
            "needs_review": False, "review_reason": None, "alternative": None} | over


def _same(cls: type[BaseModel], values: dict[str, Any]) -> BaseModel:
    built, validated = trusted(cls, **values), cls(**values)
    assert type(built) is cls
    assert built == validated
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_dump() == validated.model_dump()
    return built


def test_a_trusted_rule_finding_verdict_and_evaluation_read_as_the_validated_ones() -> None:
    _same(RuleRef, RULE)
    finding = _same(Finding, _finding())
    review = _same(Finding, _finding(severity="warning", needs_review=True, review_reason="whether it applies"))
    verdict = _same(Verdict, {"status": "fail", "findings": [finding, review]})
    passed = _same(Verdict, {"status": "pass", "findings": []})
    out = _same(EvaluationOut, {
        "overall": "review", "reasons": ["compliant: fail"], "valid": passed, "compliant": verdict,
        "supported": passed, "optimal": passed, "drg": None, "history": None, "recommendations": ["[error] x"],
        "releases": {"icd10cm": "icd10cm@FY2026"}, "notes": [], "encounter_id": None, "assignment_id": None,
        "evaluation_id": None})
    # A stored assignment's evaluation is then named on the model, as on a validated one.
    out.assignment_id = "e1/a1"
    assert out.model_dump()["assignment_id"] == "e1/a1" and "assignment_id" in out.model_fields_set


def test_values_not_naming_every_field_go_through_pydantic() -> None:
    partial = trusted(RuleRef, id="x", kind="RuleCheck")  # defaults filled in by model_construct
    assert partial.model_dump() == RuleRef(id="x", kind="RuleCheck").model_dump()
