"""Reading the plans the driver returns for ``EXPLAIN``: shared by the tests that check how a statement reads."""

from __future__ import annotations

from typing import Any


def plan_operators(plan: Any) -> list[tuple[str, str]]:
    """Each operator of an EXPLAIN plan (the driver's dict form) with its details, depth first."""
    found = [(plan["operatorType"], str(plan.get("args", {}).get("Details", "")))]
    for child in plan.get("children", []):
        found += plan_operators(child)
    return found
