"""Refuse, at the EXPLAIN stage, auditor queries whose plan shape cannot finish on a graph of this size.

A timeout stops such a query eventually, but only after it has held a worker and the page cache for the whole
budget; the plan already says it is unbounded, so the auditor is told at once how to bound it:

* a variable-length relationship pattern without an upper bound (``-[:IS_A*]->``, ``*1..``, a quantified path
  ``{1,}`` / ``+``) walks every path of the graph — give it an upper bound (``*1..12``);
* a Cartesian product the planner itself estimates at more than ``MAX_CARTESIAN_ROWS`` rows pairs every row of
  one pattern with every row of another — connect the patterns or bind each one to a key first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

MAX_CARTESIAN_ROWS = 1_000_000_000  # a billion row pairs do not finish inside any timeout we set
# Plan details name the pattern: "(a)-[anon_0:IS_A*]->(b)", "(a)-[r*1..]->(b)", "(a)-[*..12]->(b)".
_VAR_LENGTH = re.compile(r"\[[^\]]*\*\s*(?P<low>\d*)\s*(?P<dots>\.\.)?\s*(?P<high>\d*)\s*\]")
# Quantified path patterns: "((a)-[]->(b)){1, *}" in the plan; "+" / "*" / "{1,}" in the text.
_QUANTIFIER = re.compile(r"\{\s*\d*\s*,\s*(\*|)\s*\}")
_VAR_LENGTH_OPERATORS = ("VarLengthExpand", "Repeat", "Trail", "ShortestPath", "StatefulShortestPath")


class UnboundedQuery(ValueError):
    """The message says what to change; the caller turns it into its refusal."""


def _operators(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("children", []):
        yield from _operators(child)


def _details(op: dict[str, Any]) -> str:
    args = op.get("args", {})
    return str(args.get("Details") or "")


def unbounded_pattern(details: str) -> str | None:
    """The written pattern without an upper bound in an operator's details, or None."""
    for found in _VAR_LENGTH.finditer(details):
        if not found["high"] and (found["dots"] or not found["low"]):
            return found.group(0)
    for found in _QUANTIFIER.finditer(details):
        if found.group(1) in ("*", ""):
            return found.group(0)
    return None


def check_plan_shape(plan: dict[str, Any] | None) -> None:
    """Raise ``UnboundedQuery`` naming the pattern or operator and how to bound it."""
    for op in _operators(plan or {}):
        name = str(op.get("operatorType", "")).split("@")[0]
        details = _details(op)
        if name.startswith(_VAR_LENGTH_OPERATORS) and not name.startswith(("ShortestPath", "StatefulShortestPath")):
            pattern = unbounded_pattern(details)
            if pattern is not None:
                raise UnboundedQuery(
                    f"the variable-length pattern {pattern} has no upper bound and may walk every path of the graph; "
                    "give it one, e.g. -[:IS_A*1..12]-> (ICD-10-CM is at most 7 levels deep) or {1,12} for a "
                    "quantified path")
        if name.startswith("CartesianProduct"):
            estimated = float(op.get("args", {}).get("EstimatedRows") or 0)
            if estimated > MAX_CARTESIAN_ROWS:
                raise UnboundedQuery(
                    f"the query pairs every row of one pattern with every row of another (Cartesian product, "
                    f"about {estimated:,.0f} rows estimated, over {MAX_CARTESIAN_ROWS:,}); connect the patterns "
                    "with a relationship, or bind each to a key, e.g. MATCH (a:Code {key: $a}), (b:Code {key: $b})")
