"""Evaluation request bodies for the tests: an inline encounter whose evidence states codes."""

from __future__ import annotations

from typing import Any

from httpx import Response

from graph_service.models.evaluation import EvaluationOut

DISCHARGE = "2026-02-10"  # FY2026 (grouper v43.0), NCCI 2026Q1, CPT 2026


def evidence(xid: str, system: str, code: str, poa: str | None = "Y", **extra: Any) -> dict[str, Any]:
    return {"id": xid, "codes": [{"system": system, "code": code}], "poa": poa, **extra}


def body(principal: tuple[str, list[str]], secondary: list[tuple[str, list[str]]] | None = None, *,
         evidence_items: list[dict[str, Any]] | None = None, lines: list[dict[str, Any]] | None = None,
         setting: str = "inpatient", sex: str = "female", age: int = 72, poa: str | None = "Y",
         procedures: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    def dx(code: str, ids: list[str]) -> dict[str, Any]:
        return {"code": code, "poa": poa, "evidence": ids}

    return {
        "encounter": {"setting": setting, "age": age, "sex": sex, "admission_date": "2026-02-03",
                      "discharge_date": DISCHARGE, "payer": None, "evidence": evidence_items or []},
        "codes": {"principal": dx(*principal), "secondary": [dx(c, ids) for c, ids in secondary or []],
                  "procedures": procedures or [], "lines": lines or []},
        "include_history": False,
    }


def evaluation(r: Response) -> dict[str, Any]:
    """An evaluation response's body, checked against its model: the service builds the models without validating
    them (``evaluation.trusted``), so a value outside a field's type (a misspelled severity) is caught here."""
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    EvaluationOut.model_validate(out)
    return out


def findings(out: dict[str, Any], family: str, check: str) -> list[dict[str, Any]]:
    return [f for f in out[family]["findings"] if f["check"] == check]
