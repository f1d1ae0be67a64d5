"""Collecting findings: each names its check's node and guideline sections from the loaded rules.

Findings and rule references are built from the service's own data (the request was validated on the way in, the
rest comes from the release tables and the engines), so they are made with ``trusted``: every field given, in its
declared type, without running the validators again for each of the ~15 findings of a claim."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graph_service.models.evaluation import Alternative, Family, Finding, RuleRef, Severity
from graph_service.services.evaluation.rules import Rules
from graph_service.services.evaluation.trusted import trusted


def rule_ref(id: str, kind: str, label: str | None = None, release: str | None = None,
             source_file: str | None = None, detail: dict[str, Any] | None = None) -> RuleRef:
    """A ``RuleRef`` from trusted values (strings, and a detail of JSON values)."""
    return trusted(RuleRef, id=id, kind=kind, label=label, release=release, source_file=source_file,
                   detail={} if detail is None else detail)


@dataclass
class Findings:
    rules: Rules
    items: list[Finding] = field(default_factory=list)

    def add(self, family: Family, check: str, severity: Severity, explanation: str, *, rule: RuleRef | None = None,
            cited: list[RuleRef] | None = None, codes: list[str] | None = None, lines: list[str] | None = None,
            evidence: list[str] | None = None, needs_review: str | None = None,
            alternative: Alternative | None = None) -> Finding:
        check_ref, check_node, guidelines = self.rules.cited(check, family)
        found = trusted(
            Finding, family=family, check=check, severity=severity, rule=rule or check_ref,
            check_node=check_node, guidelines=guidelines,
            cited=list(cited) if cited else [], codes=list(codes) if codes else [],
            lines=list(lines) if lines else [], evidence=list(evidence) if evidence else [],
            explanation=explanation, needs_review=needs_review is not None, review_reason=needs_review,
            alternative=alternative)
        self.items.append(found)
        return found

    def of(self, family: Family) -> list[Finding]:
        return [f for f in self.items if f.family == family]

    def by_family(self, families: tuple[Family, ...]) -> dict[Family, list[Finding]]:
        """The findings of each of ``families`` in the order found (one pass over them)."""
        out: dict[Family, list[Finding]] = {family: [] for family in families}
        for f in self.items:
            found = out.get(f.family)
            if found is not None:
                found.append(f)
        return out


def edge_ref(kind: str, rule_id: str, release: str | None, **detail: Any) -> RuleRef:
    """A rule that is a relationship of the graph (an NCCI PTP row, an ICD-10-CM note), not a node."""
    return rule_ref(rule_id, kind, None, release, detail=detail)
