"""Load FHIR R4 encounter data: patients, encounters, payers, notes with sections, and coding evidence.

A source is a Bundle JSON file, an NDJSON directory, or a directory of those (shards: ``part-00000/``, …;
each shard must hold its patients' encounters and the resources they reference). Every shard is parsed
and checked before anything of it is written; a problem anywhere fails the load whole — the staging
release and everything the run wrote are discarded — and all located problems are raised together.

Codes are checked against the graph as well as by shape (``graph_codes``): each must be in the release of
its system in force on the encounter's date; codes only shape-checked are counted as warnings.

Graph written (every node ``load_run``, every relationship ``release`` + ``load_run``; a row whose node id is
already in the graph is skipped with its relationships — the node keeps what its first load wrote — and new
nodes and their relationships are created, so a re-run adds nothing):

    (:Patient)-[:HAS_ENCOUNTER]->(:Encounter)-[:INSURED_BY]->(:Payer)
    (:Encounter)-[:HAS_DOCUMENT]->(:ClinicalDocument)-[:HAS_SECTION]->(:DocumentSection)
    (:Encounter)-[:HAS_EVIDENCE]->(:Evidence[:Observation])-[:DOCUMENTED_IN]->(:DocumentSection|:ClinicalDocument)
    (:Evidence)-[:ABOUT_CONCEPT]->(:Code)   the code node is merged by key (a stub when the system is not loaded)
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any

from loaders.errors import ParseError, WrongFileError
from loaders.fhir.bundle import parse_fhir_source
from loaders.fhir.graph_codes import GraphCodeCheck, dated_codes
from loaders.fhir.issues import FhirIssue, FhirLocation, FhirValidationError
from loaders.fhir.loaded import date_floor
from loaders.fhir.records import CodeToCheck, EncounterBundle, FhirTime
from loaders.input_checks import note_folded
from loaders.machinery.pipeline import LoadContext
from loaders.registry import register
from ontology.code_systems import SYSTEMS, system
from ontology.discharge_status import discharge_status
from ontology.vocabulary import L, R

SEX = {"female": "female", "male": "male"}  # FHIR 'other' and a missing gender are 'unknown' to the grouper
PARSE_WORKERS = max(1, min(4, os.cpu_count() or 1))





# ---- sources --------------------------------------------------------------------------------------------
def fhir_shards(paths: Iterable[Path]) -> list[Path]:
    """The Bundle files and NDJSON directories to parse: a directory without NDJSON files stands for the
    Bundle files and NDJSON directories directly under it."""
    shards: list[Path] = []
    for path in paths:
        if not path.is_dir() or any(path.glob("*.ndjson")):
            shards.append(path)
            continue
        inner = sorted(p for p in path.iterdir() if (p.is_dir() and any(p.glob("*.ndjson"))) or p.suffix == ".json")
        if not inner:
            raise WrongFileError(path, None, None, "NDJSON files, Bundle JSON files, or directories of NDJSON files")
        shards += inner
    return shards


@dataclass
class PreparedShard:
    """One parsed shard as the loader's own process takes it: rows for the writer, codes for the graph check.

    Built where the shard was parsed (a worker process when there are several), so that the loader's process
    only checks codes and writes; plain rows also cross the process boundary several times faster than the
    records they come from (unpickling frozen slotted dataclasses was a fifth of the loader's own CPU)."""

    rows: EncounterRows | None  # None: the shard has problems
    codes: list[tuple[CodeToCheck, date | None]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    folded: int = 0
    issues: list[FhirIssue] = field(default_factory=list)

    @classmethod
    def of(cls, bundle: EncounterBundle) -> PreparedShard:
        counts: Counter[str] = Counter()
        add_counts(counts, bundle)
        return cls(EncounterRows.of(bundle), dated_codes(bundle), counts, bundle.folded)


def _prepare_shard(path: Path, today: date) -> PreparedShard:
    """Worker-side parse: problems come back as issues (exceptions with custom arguments do not pickle)."""
    try:
        return PreparedShard.of(parse_fhir_source(path, today))
    except FhirValidationError as err:
        return PreparedShard(None, issues=list(err.issues))
    except ParseError as err:
        location = FhirLocation(err.file, err.line, None, err.field or "")
        return PreparedShard(None, issues=[FhirIssue(location, err.expected, err.found)])


def prepared_shards(shards: list[Path], today: date, workers: int) -> Iterator[PreparedShard]:
    """Each shard parsed and prepared, in order; several at a time in worker processes when there are several."""
    if len(shards) == 1:  # a single source raises its own ParseError (not a Bundle, bad JSON) as it is
        try:
            yield PreparedShard.of(parse_fhir_source(shards[0], today))
        except FhirValidationError as err:
            yield PreparedShard(None, issues=list(err.issues))
        return
    if workers <= 1:
        for shard in shards:
            yield _prepare_shard(shard, today)
        return
    # fork: workers inherit the imported models (spawn would re-import them, and the caller's main module).
    context = get_context("fork" if "fork" in get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: list[Future[PreparedShard]] = []
        for shard in shards:  # a bounded window keeps memory flat however many shards there are
            pending.append(pool.submit(_prepare_shard, shard, today))
            if len(pending) > 2 * workers:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


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
# Rows are unique per id within a statement (``unique_rows``), as CREATE after the probe needs.
def _new(label: str, var: str) -> str:
    return f"""UNWIND $rows AS row
OPTIONAL MATCH (old:{label} {{id: row.id}})
WITH row WHERE old IS NULL
CREATE ({var}:{label} {{id: row.id}})"""


LINK = "{release: $release, load_run: $run}"


def _set_times(var: str) -> str:
    """The row's zoned datetimes (``zoned_times``) set back as DateTime values."""
    return f"FOREACH (name IN keys(row.times) | SET {var}[name] = datetime(row.times[name]))"


PATIENTS = f"""
{_new(L.Patient, 'p')}
SET p.birth_date = row.birth_date, p.sex = row.sex, p.load_run = $run
"""

ENCOUNTERS = f"""
{_new(L.Encounter, 'e')}
SET e += row.props, e.load_run = $run
{_set_times('e')}
WITH e, row
CALL (e, row) {{
  MATCH (p:{L.Patient} {{id: row.patient}})
  CREATE (p)-[:{R.HAS_ENCOUNTER} {LINK}]->(e)
}}
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
CALL (d, row) {{
  MATCH (e:{L.Encounter} {{id: row.encounter}})
  CREATE (e)-[:{R.HAS_DOCUMENT} {LINK}]->(d)
}}
"""

SECTIONS = f"""
{_new(L.DocumentSection, 's')}
SET s.title = row.title, s.text = row.text, s.start_offset = row.start_offset, s.load_run = $run
WITH s, row
CALL (s, row) {{
  MATCH (d:{L.ClinicalDocument} {{id: row.document}})
  CREATE (d)-[:{R.HAS_SECTION} {LINK}]->(s)
}}
"""

# Evidence with its encounter, where it is written, and the code it names (code nodes are merged beforehand).
EVIDENCE = f"""
{_new(L.Evidence, 'x')}
SET x += row.props, x.load_run = $run
{_set_times('x')}
FOREACH (_ IN CASE WHEN row.observation THEN [1] ELSE [] END | SET x:{L.Observation})
WITH x, row
CALL (x, row) {{
  MATCH (e:{L.Encounter} {{id: row.encounter}})
  CREATE (e)-[:{R.HAS_EVIDENCE} {LINK}]->(x)
}}
CALL (x, row) {{
  MATCH (s:{L.DocumentSection} {{id: row.section}})
  CREATE (x)-[:{R.DOCUMENTED_IN} {LINK}]->(s)
}}
CALL (x, row) {{
  MATCH (d:{L.ClinicalDocument} {{id: row.document}})
  CREATE (x)-[:{R.DOCUMENTED_IN} {LINK}]->(d)
}}
CALL (x, row) {{
  MATCH (c:{L.Code} {{key: row.concept}})
  CREATE (x)-[:{R.ABOUT_CONCEPT} {LINK}]->(c)
}}
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


def add_counts(counts: Counter[str], bundle: EncounterBundle) -> None:
    counts["patients"] += len(bundle.patients)
    counts["encounters"] += len(bundle.encounters)
    counts["documents"] += len(bundle.documents)
    counts["sections"] += sum(len(d.sections) for d in bundle.documents)
    counts["conditions"] += len(bundle.conditions)
    counts["procedures"] += len(bundle.procedures)
    counts["observations"] += len(bundle.observations)
    counts["evidence"] += len(bundle.evidence)
    counts["codes_checked"] += len(bundle.codes_to_check)


# ---- the loader ----------------------------------------------------------------------------------------------
class FhirLoader:
    """``codegraph load fhir PATH --release <batch id>``; the API hands in sources it has already parsed."""

    name = "fhir"
    system_name = "FHIR R4 encounter data"

    # Rows of consecutive shards are written together once they reach this many: a transaction has a fixed cost
    # (a round trip and a commit) that small shards paid eight times each.
    flush_rows = 20_000

    def __init__(self, parsed: Mapping[Path, EncounterBundle] | None = None, *, today: date | None = None,
                 workers: int = PARSE_WORKERS) -> None:
        self.parsed = dict(parsed or {})
        self.today = today or date.today()
        self.workers = workers

    def write(self, ctx: LoadContext) -> None:
        checker = GraphCodeCheck(ctx.writer.driver, ctx.writer.database)
        shards = fhir_shards(ctx.sources)
        counts: Counter[str] = Counter(shards=len(shards))
        issues: list[FhirIssue] = []
        to_parse = [s for s in shards if s not in self.parsed]
        parsed = prepared_shards(to_parse, self.today, self.workers)
        pending = EncounterRows()
        for shard in shards:
            prep = PreparedShard.of(self.parsed[shard]) if shard in self.parsed else next(parsed)
            shard_issues = prep.issues
            if prep.rows is not None:
                shard_issues += checker.check(prep.codes, counts)
            issues += shard_issues
            if issues or prep.rows is None:
                continue  # keep checking the rest, so that every problem is reported at once
            pending.extend(prep.rows)
            counts.update(prep.counts)
            if prep.folded:  # parsed in a worker process, which cannot note it for the run itself
                note_folded(shard, "resource", prep.folded)
            if pending.count() >= self.flush_rows:
                write_encounter_rows(ctx, pending)
                pending = EncounterRows()
        if not issues:
            write_encounter_rows(ctx, pending)
        ctx.counts.update(counts)
        if issues:
            raise FhirValidationError(ctx.sources[0] if len(ctx.sources) == 1 else "sources", issues)


register("fhir")(FhirLoader)
