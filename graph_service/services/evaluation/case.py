"""The case an evaluation reads: the encounter (inline, or read from the graph by id) and the proposed codes,
normalised once — dotted ICD-10-CM, line ids, dates of service and settings filled in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from graph_service.errors import NotFound
from graph_service.graph import Graph
from graph_service.models.evaluation import (
    CodeRefIn,
    DiagnosisIn,
    EncounterIn,
    EvaluateIn,
    EvidenceIn,
    ProcedureIn,
    ProposedCodes,
)
from graph_service.services.drg_grouper import dotted
from ontology.vocabulary import L, R

ENCOUNTER = f"""
MATCH (e:{L.Encounter} {{id: $id}})
OPTIONAL MATCH (p:{L.Patient})-[:{R.HAS_ENCOUNTER}]->(e)
OPTIONAL MATCH (e)-[:{R.INSURED_BY}]->(payer:{L.Payer})
RETURN e {{.*}} AS encounter, p.sex AS sex, payer.id AS payer,
       [(e)-[:{R.HAS_EVIDENCE}]->(x:{L.Evidence}) |
          {{id: x.id, kind: x.kind, text: x.text, poa: x.poa,
           codes: [(x)-[:{R.ABOUT_CONCEPT}]->(c:{L.Code}) | {{system: c.system, code: c.code}}]}}] AS evidence
"""
INPATIENT_CLASSES = ("IMP", "ACUTE", "NONAC", "INPATIENT")
OUTPATIENT_HOSPITAL_CLASSES = ("OBSENC", "EMER", "HH", "AMB")


@dataclass
class Line:
    line_id: str
    code: str
    modifiers: list[str]
    units: int
    date_of_service: date
    setting: str
    evidence: list[str]


@dataclass
class Case:
    encounter_id: str | None
    encounter: EncounterIn
    principal: DiagnosisIn
    secondary: list[DiagnosisIn]
    procedures: list[ProcedureIn]
    lines: list[Line]
    evidence: dict[str, EvidenceIn] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    _dx_codes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    @property
    def inpatient(self) -> bool:
        return self.encounter.setting == "inpatient"

    @property
    def diagnoses(self) -> list[DiagnosisIn]:
        return [self.principal, *self.secondary]

    def dx_codes(self) -> tuple[str, ...]:
        """Dotted, in claim order (principal first)."""
        return self._dx_codes

    def __post_init__(self) -> None:  # the codes never change once the case is built: dotted once
        self._dx_codes = tuple(dotted(d.code) for d in (self.principal, *self.secondary))


def _native_date(value: Any) -> date | None:
    value = value.to_native() if hasattr(value, "to_native") else value
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10]) if value else None


def encounter_from_graph(graph: Graph, encounter_id: str) -> EncounterIn:
    row = graph.read_one(ENCOUNTER, id=encounter_id)
    if row is None:
        raise NotFound(f"no encounter {encounter_id!r}")
    e = row["encounter"]
    start = _native_date(e.get("period_start"))
    end = _native_date(e.get("period_end")) or start or date.today()
    klass = str(e.get("class") or "").upper()
    setting = ("inpatient" if klass in INPATIENT_CLASSES or not klass
               else "outpatient_hospital" if klass in OUTPATIENT_HOSPITAL_CLASSES else "practitioner")
    evidence = []
    for x in row["evidence"]:
        codes = [CodeRefIn(system=c["system"], code=c["code"]) for c in x["codes"] if c["system"] != "snomed"]
        snomed = [c["code"] for c in x["codes"] if c["system"] == "snomed"]
        kind = x.get("kind") if x.get("kind") in ("condition", "procedure", "observation", "finding") else "finding"
        poa = x.get("poa") if x.get("poa") in ("Y", "N", "U", "W", "1") else None
        evidence.append(EvidenceIn(id=x["id"], kind=kind, codes=codes, snomed=snomed, poa=poa,
                                   text=(x.get("text") or "")[:2000] or None))
    sex = row["sex"] if row["sex"] in ("male", "female") else "unknown"
    return EncounterIn(setting=setting, age=min(124, max(0, e.get("age_years") or 0)), sex=sex,
                       admission_date=start or end, discharge_date=end, payer=row["payer"],
                       discharge_status=e.get("discharge_status") or 1, evidence=evidence)


def build_case(graph: Graph, body: EvaluateIn) -> Case:
    notes: list[str] = []
    if body.encounter is not None:
        encounter = body.encounter
    else:
        assert body.encounter_id is not None
        encounter = encounter_from_graph(graph, body.encounter_id)
        if not encounter.age:
            notes.append("the encounter has no age at admission: the age edits use 0")
    return case_of(body.encounter_id, encounter, body.codes, notes)


def case_of(encounter_id: str | None, encounter: EncounterIn, codes: ProposedCodes, notes: list[str]) -> Case:
    default_setting = "practitioner" if encounter.setting in ("inpatient", "practitioner") else "outpatient_hospital"
    lines = [Line(line_id=ln.line_id or str(i + 1), code=ln.code, modifiers=ln.modifiers, units=ln.units,
                  date_of_service=ln.date_of_service or encounter.discharge_date,
                  setting=ln.setting or default_setting, evidence=ln.evidence)
             for i, ln in enumerate(codes.lines)]
    return Case(encounter_id=encounter_id, encounter=encounter, principal=codes.principal,
                secondary=list(codes.secondary), procedures=list(codes.procedures), lines=lines,
                evidence={x.id: x for x in encounter.evidence}, notes=notes)

