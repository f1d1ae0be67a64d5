"""From findings to the four verdicts and the one answer the coding engine acts on.

A family fails on an error, needs review on an opportunity or an undecidable finding, has warnings on a warning.
Overall: reject when a code is not valid (the claim cannot go out), review when anything fails or needs a
human (with the recommendations), accept_with_warnings on warnings alone, else accept."""

from __future__ import annotations

from graph_service.models.evaluation import Family, Finding, Verdict
from graph_service.services.evaluation.trusted import trusted


def verdict(findings: list[Finding]) -> Verdict:
    if any(f.severity == "error" for f in findings):
        status = "fail"
    elif any(f.severity == "opportunity" or f.needs_review for f in findings):
        status = "review"
    elif any(f.severity == "warning" for f in findings):
        status = "warnings"
    else:
        status = "pass"
    return trusted(Verdict, status=status, findings=findings)


def overall(verdicts: dict[Family, Verdict]) -> tuple[str, list[str]]:
    reasons = [f"{family}: {v.status}" for family, v in verdicts.items() if v.status != "pass"]
    statuses = {v.status for v in verdicts.values()}
    if verdicts["valid"].status == "fail":
        return "reject", reasons
    if statuses & {"fail", "review"}:
        return "review", reasons
    if "warnings" in statuses:
        return "accept_with_warnings", reasons
    return "accept", reasons


def recommendations(findings: list[Finding]) -> list[str]:
    """What a human reviewer should do, most consequential first: errors, then opportunities, then reviews."""
    rank = {"error": 0, "opportunity": 1, "warning": 2, "info": 3}
    picked = [f for f in findings if f.severity in ("error", "opportunity") or f.needs_review]
    return [f"[{f.severity}] {f.explanation}" for f in sorted(picked, key=lambda f: rank[f.severity])]
