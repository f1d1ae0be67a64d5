"""A quarter of NCCI edits held in process, and the procedure codes the graph knows.

A claim edit looks up, per date of service and setting, the PTP edit of each ordered pair of the claim's
codes and the MUE of each code; a quarter never changes once visible, so the service answers from these
tables instead of a round trip per claim. The rows keep what the edit explanation reads, compactly
(a quarter of the practitioner table is about half a million rows).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date
from typing import Any

from neo4j import Driver

from loaders.ncci import ptp_ranges
from ontology.release_ranges import in_release
from ontology.vocabulary import L, R

# The edits valid in the release: each edge is stored once over a range of quarters (loaders.ncci.ptp_ranges).
PTP_EDGES = f"""
MATCH (rel:{L.Release} {{id: $release}})
WITH {ptp_ranges.SCOPE} AS scope
MATCH (a:{L.Code})-[e:{R.BUNDLES}]->(b:{L.Code}) WHERE {ptp_ranges.valid_in('e', 'scope')}
RETURN a.key AS column1, b.key AS column2, e.setting AS setting, e.effective AS effective, e.deletion AS deletion,
       e.modifier_indicator AS modifier_indicator, e.rationale AS rationale, e.prior_1996 AS prior_1996
"""
MUES = f"""
MATCH (m:{L.MUE})-[:{R.IN_RELEASE}]->(:{L.Release} {{id: $release}})
RETURN m.key AS key, m.code AS code, m.value AS value, m.mai AS mai, m.mai_text AS mai_text,
       m.rationale AS rationale
"""
# Every CPT/HCPCS code node (a code release or an NCCI table names it) with its visible code releases.
PROCEDURE_CODES = f"""
MATCH (c:{L.Code}) WHERE c.key STARTS WITH 'cpt|' OR c.key STARTS WITH 'hcpcs|'
OPTIONAL MATCH (r:{L.Release} {{status: 'visible'}}) WHERE r.system IN ['cpt', 'hcpcs'] AND {in_release('c', 'r')}
RETURN c.key AS key, collect(r.id) AS releases
"""


@dataclass(frozen=True, slots=True)
class PtpEdit:
    setting: str
    effective: date
    deletion: date | None
    modifier_indicator: int
    rationale: str | None
    prior_1996: bool

    def covers(self, setting: str, day: date) -> bool:
        return self.setting == setting and self.effective <= day and (self.deletion is None or day <= self.deletion)

    def as_edit(self) -> dict[str, Any]:
        return {"setting": self.setting, "effective": self.effective, "deletion": self.deletion,
                "modifier_indicator": self.modifier_indicator, "rationale": self.rationale,
                "prior_1996": self.prior_1996}


@dataclass(frozen=True)
class PtpTable:
    release: str
    edits: dict[tuple[str, str], tuple[PtpEdit, ...]]  # (column 1 key, column 2 key) → rows, newest first


@dataclass(frozen=True)
class MueTable:
    release: str
    mues: dict[str, dict[str, Any]]  # by MUE key (release|setting|code)


@dataclass(frozen=True)
class ProcedureCodes:
    releases: dict[str, list[str]]  # code key → visible CPT/HCPCS releases holding it (empty: only NCCI names it)


def _native(value: Any) -> Any:
    return value.to_native() if hasattr(value, "to_native") else value


def build_ptp_table(driver: Driver, database: str, release: str) -> PtpTable:
    edits: dict[tuple[str, str], list[PtpEdit]] = {}
    with driver.session(database=database, default_access_mode="READ", fetch_size=20_000) as session:
        for col1, col2, setting, effective, deletion, indicator, rationale, prior in session.run(
                PTP_EDGES, release=release):
            edit = PtpEdit(sys.intern(setting), _native(effective), _native(deletion), int(indicator),
                           sys.intern(rationale) if rationale else rationale, bool(prior))
            edits.setdefault((col1, col2), []).append(edit)
    return PtpTable(release, {pair: tuple(sorted(rows, key=lambda e: e.effective, reverse=True))
                              for pair, rows in edits.items()})


def build_mue_table(driver: Driver, database: str, release: str) -> MueTable:
    records, _, _ = driver.execute_query(MUES, release=release, database_=database, routing_="r")
    return MueTable(release, {r["key"]: dict(r) for r in records})


def build_procedure_codes(driver: Driver, database: str) -> ProcedureCodes:
    records, _, _ = driver.execute_query(PROCEDURE_CODES, database_=database, routing_="r")
    return ProcedureCodes({key: releases for key, releases in records})
