"""The MS-DRG grouper: which grouper version a discharge date needs, the process-wide ``msdrg`` engine, and
claims in the grouper's code form.

Grouper version by discharge date: FY = year (+1 from October), version = FY − 1983, and the engine's
mid-year update (v43.1 = 431) for discharges April–September when msdrg has it. Dates msdrg does not cover
are refused (422) with the versions it groups.

One ``MsdrgGrouper`` serves the process: its native context is immutable after initialisation and
``msdrg_group_json`` is documented thread-safe (mz-drg docs/dev/c-api.md); 16 threads grouping 4,000 claims
gave results identical to a sequential run, so only the lazy creation is locked.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

import msdrg

from graph_service.errors import Unprocessable
from graph_service.models.drg import DrgClaimIn
from loaders.msdrg_tables.load import drg_key  # the loader owns the key formats
from ontology.code_systems import system

ICD10CM = system("icd10cm")
SYSTEM = "msdrg"
FIRST_FY = 1983  # grouper version = fiscal year - 1983
EXPIRED_STATUSES = frozenset({20, 40, 41, 42})  # UB-04: expired; expired at home / in a facility / place unknown
# The msdrg engines' sex codes, from M/F/U or FHIR male/female/other/unknown.
SEX_CODES = {"M": 0, "MALE": 0, "F": 1, "FEMALE": 1, "U": 2}


def grouper_sex_code(sex: Any) -> int:
    return SEX_CODES.get(str(sex or "").strip().upper(), 2)


# ---- grouper version and engine ------------------------------------------------------------------
@dataclass(frozen=True)
class GrouperChoice:
    fiscal_year: int
    version: int  # 43
    engine: int  # msdrg version: 430, or 431 for the April update

    @property
    def release_id(self) -> str:
        return f"{SYSTEM}@FY{self.fiscal_year}"

    @property
    def prefix(self) -> str:
        return drg_key(self.version, "")


def fiscal_year(day: date) -> int:
    return day.year + 1 if day.month >= 10 else day.year


def grouper_for(day: date | None, fy: int | None = None) -> GrouperChoice:
    """The grouper version in force on a discharge date (or the latest update of fiscal year ``fy``)."""
    fy = fiscal_year(day) if day is not None else fy
    assert fy is not None
    version = fy - FIRST_FY
    available = set(msdrg.MsdrgGrouper.available_versions())
    if version * 10 not in available:
        supported = sorted({v // 10 for v in available})
        when = f"discharge date {day.isoformat()} (FY{fy})" if day else f"FY{fy}"
        raise Unprocessable(
            f"{when} needs MS-DRG grouper v{version}, which the msdrg engine does not support; it groups "
            f"v{supported[0]}-v{supported[-1]} (FY{supported[0] + FIRST_FY}-FY{supported[-1] + FIRST_FY})"
        )
    update = version * 10 + 1
    mid_year = day is None or 4 <= day.month <= 9
    return GrouperChoice(fy, version, update if mid_year and update in available else version * 10)


_engine: msdrg.MsdrgGrouper | None = None
_engine_lock = threading.Lock()


def engine() -> msdrg.MsdrgGrouper:
    """The process-wide grouper (thread-safe after creation; see the module docstring)."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = msdrg.MsdrgGrouper()
                atexit.register(_engine.close)
    return _engine


# ---- claims ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    """A claim in the grouper's code form (no dots)."""

    pdx: str
    pdx_poa: str | None
    sdx: tuple[tuple[str, str | None], ...]
    procedures: tuple[str, ...]
    age: int | None
    sex: int
    discharge_status: int

    @classmethod
    def of(cls, body: DrgClaimIn) -> Claim:
        return cls(body.principal_dx, body.principal_poa, tuple((d.code, d.poa) for d in body.secondary_dx),
                   tuple(body.procedures), body.age, SEX_CODES[body.sex], body.discharge_status)

    @property
    def expired(self) -> bool:
        return self.discharge_status in EXPIRED_STATUSES

    def engine_input(self, version: int, shared: dict[tuple[str, str | None], dict[str, str]] | None = None
                     ) -> dict[str, Any]:
        """The engine's claim. Claims grouped together may share their code entries through ``shared``: the engine
        only reads them, and the alternatives of one claim repeat most of its codes."""
        memo = {} if shared is None else shared

        def dx(code: str, poa: str | None) -> dict[str, str]:
            found = memo.get((code, poa))
            if found is None:
                found = memo[(code, poa)] = ({"code": code} if poa is None
                                             else {"code": code, "poa": " " if poa == "1" else poa})
            return found

        claim: dict[str, Any] = {
            "version": version, "sex": self.sex, "discharge_status": self.discharge_status,
            "pdx": dx(self.pdx, self.pdx_poa), "sdx": [dx(c, p) for c, p in self.sdx],
            "procedures": [dx(c, None) for c in self.procedures],
        }
        if self.age is not None:
            claim["age"] = self.age
        return claim


def dotted(code: str) -> str:
    return ICD10CM.normalise(code)


@dataclass
class Grouped:
    claim: Claim
    raw: dict[str, Any]

    @cached_property  # read several times per claim (the grouper's answer never changes)
    def drg(self) -> str:
        return f"{self.raw.get('final_drg') or 999:03d}"

    @property
    def initial_drg(self) -> str | None:
        value = self.raw.get("initial_drg")
        return f"{value:03d}" if value is not None else None

    @property
    def return_code(self) -> str:
        return str(self.raw.get("return_code") or "OK")

    @property
    def severity(self) -> str:
        return str(self.raw.get("final_severity") or "NONE")

    @property
    def mdc(self) -> str | None:
        value = self.raw.get("final_mdc")
        return f"{value:02d}" if value else None

    def unknown_diagnoses(self) -> set[str]:
        return {s["code"] for s in self.raw.get("sdx_output") or [] if "VALID" not in (s.get("flags") or [])}


def group_claims(claims: Sequence[Claim], choice: GrouperChoice) -> list[Grouped]:
    g = engine()
    shared: dict[tuple[str, str | None], dict[str, str]] = {}
    return [Grouped(c, g.group(c.engine_input(choice.engine, shared))) for c in claims]  # type: ignore[arg-type]
