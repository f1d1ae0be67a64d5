"""Collecting findings: each names its check's node and guideline sections from the loaded rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graph_service.models.evaluation import Alternative, Family, Finding, RuleRef, Severity
from graph_service.services.evaluation.rules import Rules


@dataclass
class Findings:
    rules: Rules
    items: list[Finding] = field(default_factory=list)

    def add(self, family: Family, check: str, severity: Severity, explanation: str, *, rule: RuleRef | None = None,
            cited: list[RuleRef] | None = None, codes: list[str] | None = None, lines: list[str] | None = None,
            evidence: list[str] | None = None, needs_review: str | None = None,
            alternative: Alternative | None = None) -> Finding:
        found = Finding(
            family=family, check=check, severity=severity, rule=rule or self.rules.check_ref(check, family),
            check_node=self.rules.check_node(check), guidelines=self.rules.guidelines(check), cited=cited or [],
            codes=codes or [], lines=lines or [], evidence=evidence or [], explanation=explanation,
            needs_review=needs_review is not None, review_reason=needs_review, alternative=alternative)
        self.items.append(found)
        return found

    def of(self, family: Family) -> list[Finding]:
        return [f for f in self.items if f.family == family]


def edge_ref(kind: str, rule_id: str, release: str | None, **detail: Any) -> RuleRef:
    """A rule that is a relationship of the graph (an NCCI PTP row, an ICD-10-CM note), not a node."""
    return RuleRef(id=rule_id, kind=kind, label=None, release=release, detail=detail)
