"""A parsed FHIR source as graph rows, and the statements that write them.

Graph written (every node ``load_run``, every relationship ``release`` + ``load_run``; a row whose node id is
already in the graph is skipped with its relationships — the node keeps what its first load wrote — and new
nodes and their relationships are created, so a re-run adds nothing):

    (:Patient)-[:HAS_ENCOUNTER]->(:Encounter)-[:INSURED_BY]->(:Payer)
    (:Encounter)-[:HAS_DOCUMENT]->(:ClinicalDocument)-[:HAS_SECTION]->(:DocumentSection)
    (:Encounter)-[:HAS_EVIDENCE]->(:Evidence[:Observation])-[:DOCUMENTED_IN]->(:DocumentSection|:ClinicalDocument)
    (:Evidence)-[:ABOUT_CONCEPT]->(:Code)   the code node is merged by key (a stub when the system is not loaded)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from loaders.fhir.loaded import date_floor
from loaders.fhir.records import EncounterBundle, FhirTime
from loaders.machinery.pipeline import LoadContext
from ontology.code_systems import SYSTEMS, system
from ontology.discharge_status import discharge_status
from ontology.vocabulary import L, R, seek_by_key

SEX = {"female": "female", "male": "male"}  # FHIR 'other' and a missing gender are 'unknown' to the grouper


# ---- rows ------------------------------------------------------------------------------------------------
def _time(value: FhirTime | None) -> date | datetime | None:
    """A FHIR date/dateTime as Neo4j takes it; a partial date ("2024-03") becomes its first day."""
    if value is None or isinstance(value, date):
        return value
    return date_floor(value)


def zoned_times(props: dict[str, Any]) -> dict[str, str]:
    """The zoned datetimes of ``props`` taken out as ISO text, for the statement to turn back with ``datetime()``.

    The driver converts a Python datetime to Bolt in pure Python (tens of µs each: a third of the loader's own
    CPU on encounter data); the server parses the text for much less, and stores the same value."""
    times = {k: v.isoformat() for k, v in props.items() if isinstance(v, datetime) and v.tzinfo is not None}
    for name in times:
        del props[name]
    return times


def _value(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def section_id(document_id: str, index: int) -> str:
    return f"{document_id}#section-{index}"


@dataclass
class EncounterRows:
    """One parsed source as the rows of the graph statements below."""

    patients: list[dict[str, Any]] = field(default_factory=list)
    encounters: list[dict[str, Any]] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    concepts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # the codes evidence names, by system

    @classmethod
    def of(cls, bundle: EncounterBundle) -> EncounterRows:
        rows = cls()
        rows.patients = [{"id": p.id, "birth_date": p.birth_date if isinstance(p.birth_date, date) else None,
                          "sex": SEX.get(p.sex or "", "unknown")} for p in bundle.patients]
        for e in bundle.encounters:
            props = {"class": e.class_code, "type_codes": [f"{c.system_name}|{c.code}" for c in e.type_codes],
                     "period_start": _time(e.period_start), "period_end": _time(e.period_end),
                     "discharge_disposition": e.discharge_disposition,
                     "discharge_status": discharge_status(e.discharge_disposition),
                     "age_years": e.age_years_at_admission, "age_days": e.age_days_at_admission}
            rows.encounters.append({"id": e.id, "patient": e.patient_id or None, "payer": e.payer_id,
                                    "times": zoned_times(props), "props": props})
        section_of: dict[tuple[str, str], str] = {}
        for d in bundle.documents:
            rows.documents.append({"id": d.id, "encounter": d.encounter_id,
                                   "props": {"note_type": d.note_type, "text": d.text}})
            for k, s in enumerate(d.sections):
                sid = section_id(d.id, k)
                section_of.setdefault((d.id, s.title), sid)  # a repeated title: evidence names the first
                rows.sections.append({"id": sid, "document": d.id, "title": s.title, "text": s.text,
                                      "start_offset": s.start_offset})
        conditions = {f"Condition/{c.id}": c for c in bundle.conditions}
        procedures = {f"Procedure/{p.id}": p for p in bundle.procedures}
        observations = {f"Observation/{o.id}": o for o in bundle.observations}
        concepts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for x in bundle.evidence:
            props: dict[str, Any] = {"kind": x.kind, "text": x.text, "source_resource": x.source_resource,
                                     "system": x.concept.system_name, "code": x.concept.code}
            if (c := conditions.get(x.source_resource)) is not None:
                props |= {"poa": c.present_on_admission, "category": c.category, "onset": _time(c.onset)}
            elif (p := procedures.get(x.source_resource)) is not None:
                props["performed"] = _time(p.performed)
            elif (o := observations.get(x.source_resource)) is not None:
                props |= {"loinc": o.loinc, "value": _value(o.value), "unit": o.unit,
                          "interpretation": o.interpretation, "effective": _time(o.effective)}
            section = section_of.get((x.document_id, x.section_title or "")) if x.document_id else None
            concept = None
            if x.concept.system_name in SYSTEMS:
                cs = system(x.concept.system_name)
                concept = cs.key(x.concept.code)
                concepts[cs.id].append({"evidence": x.id, "key": concept, "code": cs.normalise(x.concept.code)})
            rows.evidence.append({"id": x.id, "encounter": x.encounter_id, "observation": x.kind == "observation",
                                  "section": section, "document": None if section else x.document_id,
                                  "concept": concept, "times": zoned_times(props), "props": props})
        rows.concepts = dict(concepts)
        return rows

    def extend(self, other: EncounterRows) -> None:
        self.patients += other.patients
        self.encounters += other.encounters
        self.documents += other.documents
        self.sections += other.sections
        self.evidence += other.evidence
        for system_id, rows in other.concepts.items():
            self.concepts.setdefault(system_id, []).extend(rows)

    def count(self) -> int:
        return (len(self.patients) + len(self.encounters) + len(self.documents) + len(self.sections)
                + len(self.evidence) + sum(len(v) for v in self.concepts.values()))


# ---- statements ----------------------------------------------------------------------------------------------
# Encounter data is keyed by resource id, and a node keeps what its first load wrote: a row whose node exists is
# skipped whole (with the relationships it would have created), and new nodes and their relationships are
# CREATEd. Skipping by a unique-index probe and creating costs about half of what MERGE on every node and every
# relationship did (MERGE locks and expands the node's relationships to look for the one it would create).
# Rows are unique per id within a statement (``unique_rows``), as CREATE after the probe needs. Every lookup is
# pinned to its key's index: replanned on statistics that lag a load, a statement can otherwise scan once per row.
def _new(label: str, var: str) -> str:
    return f"""UNWIND $rows AS row
{seek_by_key('old', label, 'row.id', optional=True)}
WITH row WHERE old IS NULL
CREATE ({var}:{label} {{id: row.id}})"""


LINK = "{release: $release, load_run: $run}"


def _set_times(var: str) -> str:
    """The row's zoned datetimes (``zoned_times``) set back as DateTime values."""
    return f"FOREACH (name IN keys(row.times) | SET {var}[name] = datetime(row.times[name]))"


def _link(var: str, rel: str, label: str, field: str, *, into: bool = False) -> str:
    """A relationship between the row's new node ``var`` and the ``label`` node whose key is ``row.<field>``
    (none when there is no such node); ``into``: it points at ``var``."""
    pattern = f"(t)-[:{rel} {LINK}]->({var})" if into else f"({var})-[:{rel} {LINK}]->(t)"
    return f"CALL ({var}, row) {{\n  {seek_by_key('t', label, f'row.{field}')}\n  CREATE {pattern}\n}}"


PATIENTS = f"""
{_new(L.Patient, 'p')}
SET p.birth_date = row.birth_date, p.sex = row.sex, p.load_run = $run
"""

ENCOUNTERS = f"""
{_new(L.Encounter, 'e')}
SET e += row.props, e.load_run = $run
{_set_times('e')}
WITH e, row
{_link('e', R.HAS_ENCOUNTER, L.Patient, 'patient', into=True)}
CALL (e, row) {{
  WITH row WHERE row.payer IS NOT NULL
  MERGE (y:{L.Payer} {{id: row.payer}})
    ON CREATE SET y.name = row.payer, y.load_run = $run
  CREATE (e)-[:{R.INSURED_BY} {LINK}]->(y)
}}
"""

DOCUMENTS = f"""
{_new(L.ClinicalDocument, 'd')}
SET d += row.props, d.load_run = $run
WITH d, row
{_link('d', R.HAS_DOCUMENT, L.Encounter, 'encounter', into=True)}
"""

SECTIONS = f"""
{_new(L.DocumentSection, 's')}
SET s.title = row.title, s.text = row.text, s.start_offset = row.start_offset, s.load_run = $run
WITH s, row
{_link('s', R.HAS_SECTION, L.ClinicalDocument, 'document', into=True)}
"""

# Evidence with its encounter, where it is written, and the code it names (code nodes are merged beforehand).
EVIDENCE = f"""
{_new(L.Evidence, 'x')}
SET x += row.props, x.load_run = $run
{_set_times('x')}
FOREACH (_ IN CASE WHEN row.observation THEN [1] ELSE [] END | SET x:{L.Observation})
WITH x, row
{_link('x', R.HAS_EVIDENCE, L.Encounter, 'encounter', into=True)}
{_link('x', R.DOCUMENTED_IN, L.DocumentSection, 'section')}
{_link('x', R.DOCUMENTED_IN, L.ClinicalDocument, 'document')}
{_link('x', R.ABOUT_CONCEPT, L.Code, 'concept')}
"""


# The code nodes evidence names, merged by key (a stub with its system's label when the system is not loaded).
# One statement for every system: the label comes from the ontology's system table, never from the input.
CONCEPT_CODES = f"""
UNWIND $rows AS row
MERGE (c:{L.Code} {{key: row.key}})
  ON CREATE SET c.code = row.code, c.system = row.system, c.load_run = $run, c:$(row.label)
"""


def unique_rows(rows: list[dict[str, Any]], key: str = "id") -> list[dict[str, Any]]:
    """The first row of each id: a node keeps what its first mention says, as with MERGE ... ON CREATE."""
    seen: set[Any] = set()
    out = []
    for row in rows:
        if row[key] not in seen:
            seen.add(row[key])
            out.append(row)
    return out


def write_encounter_rows(ctx: LoadContext, rows: EncounterRows) -> None:
    w = ctx.writer
    codes = [{"key": c["key"], "code": c["code"], "system": system_id, "label": SYSTEMS[system_id].label}
             for system_id, concept_rows in sorted(rows.concepts.items()) for c in unique_rows(concept_rows, "key")]
    w.write("fhir evidence codes", CONCEPT_CODES, codes, describe_row=lambda r: f"code {r['key']}")
    w.write("fhir patients", PATIENTS, unique_rows(rows.patients), describe_row=lambda r: f"Patient/{r['id']}")
    w.write("fhir encounters", ENCOUNTERS, unique_rows(rows.encounters),
            describe_row=lambda r: f"Encounter/{r['id']}")
    w.write("fhir documents", DOCUMENTS, unique_rows(rows.documents),
            describe_row=lambda r: f"DocumentReference/{r['id']}")
    w.write("fhir sections", SECTIONS, unique_rows(rows.sections), describe_row=lambda r: f"section {r['id']}")
    w.write("fhir evidence", EVIDENCE, unique_rows(rows.evidence), describe_row=lambda r: f"evidence {r['id']}")
