"""Sanity gates between staging and promotion: a release that looks broken is staged and reported, not promoted.

A code release is compared with the previous release of its system (``release_diff.diff_and_impact``). Real
yearly updates delete well under 1 % of the codes and retitle about as many (FY2025 → FY2026: 28 of 74,260
codes no longer billed, 157 retitled); a file cut short or a wrong file deletes tens of thousands. A release
over either share is held unless the maintainer forces it (``codegraph load … --force``). A back-filled
release compared with a newer one, the first release of a system, and a previous release of fewer than
``min_codes`` codes (a hand-made test set, where one code is whole percents) are not gated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loaders.errors import LoadError

DEFAULT_MAX_DELETED_SHARE = 0.05
DEFAULT_MAX_RETITLED_SHARE = 0.10
DEFAULT_MIN_CODES = 100


@dataclass(frozen=True)
class PromotionGates:
    max_deleted_share: float = DEFAULT_MAX_DELETED_SHARE
    max_retitled_share: float = DEFAULT_MAX_RETITLED_SHARE
    force: bool = False
    min_codes: int = DEFAULT_MIN_CODES

    def judge(self, report: dict[str, Any]) -> dict[str, Any]:
        """The gates' verdict on an after-staging report: ``{"verdict": passed|held|forced|not gated, …}``."""
        diff = report.get("diff")
        limits = {"max_deleted_share": self.max_deleted_share, "max_retitled_share": self.max_retitled_share}
        if not diff or not diff.get("from_codes"):
            return {"verdict": "not gated", "why": "no previous release of the system to compare with", **limits}
        if not diff.get("previous_is_older"):
            return {"verdict": "not gated", "why": f"{diff['from']} is newer: this release is a back-fill", **limits}
        base = diff["from_codes"]
        if base < self.min_codes:
            return {"verdict": "not gated", "why": f"{diff['from']} has {base} codes, fewer than {self.min_codes}",
                    **limits}
        deleted_share, retitled_share = diff["deleted"] / base, diff["title_revised"] / base
        reasons = []
        if deleted_share > self.max_deleted_share:
            reasons.append(f"it deletes {diff['deleted']:,} of the {base:,} codes of {diff['from']} "
                           f"({deleted_share:.1%}; at most {self.max_deleted_share:.1%} is allowed)")
        if retitled_share > self.max_retitled_share:
            reasons.append(f"it changes the titles of {diff['title_revised']:,} of the {base:,} codes of "
                           f"{diff['from']} ({retitled_share:.1%}; at most {self.max_retitled_share:.1%} is allowed)")
        verdict = "passed" if not reasons else ("forced" if self.force else "held")
        return {"verdict": verdict, "reasons": reasons, "deleted_share": round(deleted_share, 6),
                "retitled_share": round(retitled_share, 6), **limits}


class ReleaseHeldError(LoadError):
    """The staged release failed a sanity gate and was not promoted; ``report`` is the load report."""

    def __init__(self, message: str, report: Any) -> None:
        super().__init__(message)
        self.report = report
