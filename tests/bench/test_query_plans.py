"""bench.query_plans flags a scan that runs once per row (under an Apply), and not a statement's one scan."""

from __future__ import annotations

from typing import Any

from bench.query_plans import summarise


def _op(name: str, lhs: dict[str, Any] | None = None, rhs: dict[str, Any] | None = None) -> dict[str, Any]:
    plan: dict[str, Any] = {"operator": name}
    if lhs:
        plan["lhs"] = lhs
    if rhs:
        plan["rhs"] = rhs
    return plan


def _entry(query: str, plan: dict[str, Any], seconds: float) -> dict[str, Any]:
    us = int(seconds * 1e6)
    return {"query": query, "queryExecutionPlan": plan,
            "invocationSummary": {"invocationCount": 1, "executionTimeInUs": {"avg": us},
                                  "compileTimeInUs": {"avg": 1000}}}


def test_a_scan_under_an_apply_is_flagged_and_a_single_scan_is_not() -> None:
    # The shape session 14 caught in the coding load: the evidence branch scanned an index for each cited id.
    per_row = _op("ProduceResults", _op("Create", _op("Filter", _op("Expand(All)", _op(
        "Apply", _op("Unwind", _op("Argument")), _op("NodeIndexScan"))))))
    seek = _op("ProduceResults", _op("Create", _op("Apply", _op("Unwind"), _op("NodeUniqueIndexSeek(Locking)"))))
    table = _op("ProduceResults", _op("EagerAggregation", _op("NodeByLabelScan")))
    lines = summarise([_entry("UNWIND $rows AS row …", per_row, 59.8), _entry("UNWIND $rows …", seek, 0.2),
                       _entry("MATCH (m:MDC) RETURN m", table, 0.01)])
    assert [line["execution_s"] for line in lines] == [59.8, 0.2, 0.01]
    assert lines[0]["per_row_scans"] == ["NodeIndexScan"]
    assert lines[1]["per_row_scans"] == [] and lines[2]["per_row_scans"] == []
