"""``codegraph load coding FILE --release <id>``: coding assignments in bulk, as the API would record them.

Each line of the NDJSON file (see ``assignments_file``) is one assignment of an encounter already in the
graph. Lines are written in waves: a batch never holds two lines of one encounter, so a revision is written
after the assignment it supersedes (a file in version order — all version 1 lines, then version 2, … —
makes one wave per version). Each new assignment supersedes the encounter's current one, exactly like
``POST /v1/encounters/{id}/coding``, through the same ``WRITE_ASSIGNMENTS`` statement and row.

Checked before writing, with every problem located by file, line and field: the line's shape
(``CodingAssignmentIn``), that the encounter exists, that each cited evidence id is the encounter's, and that
each code exists in the release of its system in force on the encounter's date (as the FHIR loader checks).
Any problem fails the load whole. Final and amended assignments are grouped to an MS-DRG with the expected
payment through the DRG service (identical claims grouped once, MS-DRG facts of a code set read once).
ICD-10-CM notes, NCCI edits and coverage are not evaluated per line (the API does that for one assignment);
``findings`` says so.

A line's assignment id is ``<encounter>/bulk<n>-<digest of the line>`` (n: its place among the encounter's lines
in the file), so loading the same file again adds nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from threading import Lock
from typing import Any

from codegraph.settings import Settings, get_settings
from graph_service.errors import ServiceError
from graph_service.graph import Graph
from graph_service.models.coding import AssignmentStatus, CodeRole, CodingAssignmentIn, DrgOutcome
from graph_service.services.coding import WRITE_ASSIGNMENTS, _service_date, assignment_row, group_assignment
from loaders.coding.assignments_file import AssignmentLine, read_assignment_lines
from loaders.errors import LoadError, ParseError
from loaders.fhir.graph_codes import GraphCodeCheck
from loaders.fhir.issues import FhirLocation
from loaders.fhir.records import CodeToCheck
from loaders.machinery.pipeline import LoadContext
from loaders.registry import register
from ontology.code_systems import SYSTEMS, system
from ontology.vocabulary import L, R

MAX_LISTED = 50  # problems spelled out in the error; all are counted

ENCOUNTER_STATE = f"""
UNWIND $ids AS id
MATCH (e:{L.Encounter} {{id: id}})
OPTIONAL MATCH (p:{L.Patient})-[:{R.HAS_ENCOUNTER}]->(e)
OPTIONAL MATCH (e)-[:{R.INSURED_BY}]->(payer:{L.Payer})
CALL (e) {{
  OPTIONAL MATCH (e)-[:{R.HAS_ASSIGNMENT}]->(a:{L.CodingAssignment})
  WITH a ORDER BY a.version DESC
  RETURN collect(a.id) AS assignments,
         head(collect(CASE WHEN NOT EXISTS {{ (:{L.CodingAssignment})-[:{R.SUPERSEDES}]->(a) }}
                           THEN a {{.id, .version}} END)) AS current
}}
RETURN id, e {{.*}} AS encounter, p {{.*}} AS patient, payer.id AS payer, assignments, current
"""

EVIDENCE_OF_ENCOUNTERS = f"""
UNWIND $pairs AS pair
MATCH (x:{L.Evidence} {{id: pair[1]}})
WHERE EXISTS {{ (:{L.Encounter} {{id: pair[0]}})-[:{R.HAS_EVIDENCE}]->(x) }}
RETURN pair[0] AS encounter, x.id AS evidence
"""


def code_stubs(label: str) -> str:
    """Assigned codes of a system with no loaded release still need a code node to point at."""
    return f"""
    UNWIND $rows AS row
    MERGE (c:{L.Code} {{key: row.key}})
      ON CREATE SET c.code = row.code, c.system = $system, c.load_run = $run, c:{label}
    """


# What grouping an assignment needs: encounter and patient properties, payer, the assignment, the service date.
_Claim = tuple[dict[str, Any], dict[str, Any], str | None, CodingAssignmentIn, date]


class AssignmentFileError(LoadError):
    """Lines of an assignments file that cannot be loaded; ``issues`` lists every one, located."""

    def __init__(self, issues: list[str]) -> None:
        self.issues = issues
        listed = "\n".join(f"  {i}" for i in issues[:MAX_LISTED])
        more = f"\n  … and {len(issues) - MAX_LISTED} more" if len(issues) > MAX_LISTED else ""
        super().__init__(f"{len(issues)} problem{'s' if len(issues) != 1 else ''} in the coding assignments:\n"
                         f"{listed}{more}")


@dataclass
class _Batch:
    lines: list[AssignmentLine] = field(default_factory=list)
    encounters: set[str] = field(default_factory=set)

    def admits(self, line: AssignmentLine, size: int) -> bool:
        return line.encounter not in self.encounters and len(self.lines) < size

    def add(self, line: AssignmentLine) -> None:
        self.lines.append(line)
        self.encounters.add(line.encounter)


def _describe(err: ParseError) -> str:
    field = f"{err.field}: " if err.field else ""
    found = f" (found {err.found!r})" if err.found is not None else ""
    return f"{Path(err.file).name}:{err.line}: {field}expected {err.expected}{found}"


class ReferenceReads(Graph):
    """The graph for reads of reference data that a load does not change (MS-DRG weights, CC/MCC designations):
    each distinct query and parameters is read once per load."""

    def __init__(self, graph: Graph) -> None:
        super().__init__(graph.driver, graph.database)
        self._answers: dict[str, list[dict[str, Any]]] = {}
        self._lock = Lock()

    def read(self, cypher: str, **params: Any) -> list[dict[str, Any]]:
        key = cypher + json.dumps(params, sort_keys=True, default=str)
        with self._lock:
            if key in self._answers:
                return self._answers[key]
        rows = super().read(cypher, **params)
        with self._lock:
            self._answers[key] = rows
        return rows


class DrgGrouping:
    """Groups final and amended assignments through the DRG service, once per distinct claim, several at once."""

    workers = 4  # a grouping waits on a graph read when its facts are new; a few in flight keep Neo4j busy

    def __init__(self, graph: Graph, settings: Settings, counts: Counter[str]) -> None:
        self.graph, self.settings, self.counts = ReferenceReads(graph), settings, counts
        self.cache: dict[tuple[Any, ...], tuple[DrgOutcome | None, dict[str, Any]]] = {}
        try:
            from graph_service.services import drg as drg_service
        except ImportError:  # the DRG service is optional: assignments are then stored without a DRG
            self.grouper_for = None
        else:
            self.grouper_for = drg_service.grouper_for

    def key(self, claim: _Claim) -> tuple[Any, ...]:
        encounter, patient, payer, body, on = claim
        try:
            choice: Any = self.grouper_for(on) if self.grouper_for else None
        except ServiceError:
            choice = on  # the service explains the refusal for that date itself
        codes = sorted(body.codes, key=lambda c: (c.role is CodeRole.procedure, c.sequence))
        return (tuple((c.role, c.system, c.code, c.poa) for c in codes), patient.get("age_years"),
                encounter.get("age_years"), patient.get("sex"), encounter.get("discharge_status"), payer, choice)

    def prefetch(self, claims: list[_Claim]) -> None:
        """Group the claims not seen before, concurrently."""
        if self.grouper_for is None:
            return
        todo = {}
        for claim in claims:
            key = self.key(claim)
            if key in self.cache or key in todo:
                self.counts["drg_groupings_reused"] += 1
            else:
                todo[key] = claim
        with ThreadPoolExecutor(self.workers) as pool:
            done = pool.map(lambda c: group_assignment(self.graph, self.settings, c[0], c[1], c[2], c[3], c[4]),
                            todo.values())
            self.cache.update(zip(todo, done, strict=True))

    def group(self, claim: _Claim) -> tuple[DrgOutcome | None, dict[str, Any]]:
        if self.grouper_for is None:
            self.counts["drg_not_grouped_no_service"] += 1
            return None, {"drg": "not grouped: the DRG service is not installed"}
        outcome, findings = self.cache[self.key(claim)]
        self.counts["drg_grouped" if outcome is not None else "drg_not_grouped"] += 1
        return outcome, findings


class CodingBulkLoader:
    name = "coding"
    system_name = "Coding assignments (bulk)"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings

    def write(self, ctx: LoadContext) -> None:
        graph = Graph(ctx.writer.driver, ctx.writer.database)
        counts: Counter[str] = Counter()
        self.issues: list[str] = []
        self.ordinal: Counter[str] = Counter()
        self.checker = GraphCodeCheck(ctx.writer.driver, ctx.writer.database)
        self.grouping = DrgGrouping(graph, self.settings or get_settings(), counts)
        size = ctx.writer.batch_size
        batch = _Batch()
        for path in ctx.sources:
            for item in read_assignment_lines(path):
                if isinstance(item, ParseError):
                    self.issues.append(_describe(item))
                    continue
                if not batch.admits(item, size):
                    self._flush(ctx, graph, batch.lines, counts)
                    batch = _Batch()
                batch.add(item)
        self._flush(ctx, graph, batch.lines, counts)
        ctx.counts.update(counts)
        if self.issues:
            raise AssignmentFileError(self.issues)

    def _flush(self, ctx: LoadContext, graph: Graph, lines: list[AssignmentLine], counts: Counter[str]) -> None:
        if not lines:
            return
        state = {r["id"]: r for r in graph.read(ENCOUNTER_STATE, ids=sorted({x.encounter for x in lines}))}
        for x in lines:
            self.ordinal[x.encounter] += 1
        ids = {id(x): f"{x.encounter}/bulk{self.ordinal[x.encounter]}-{x.digest}" for x in lines}
        known = [x for x in lines if self._encounter_known(x, state)]
        self.issues += self._code_issues(known, state, counts) + self._evidence_issues(graph, known)
        if self.issues:
            return  # keep checking the rest of the file; nothing more is written
        new = [x for x in known if ids[id(x)] not in state[x.encounter]["assignments"]]
        counts["assignments_already_loaded"] += len(known) - len(new)
        self.grouping.prefetch([self._claim(x, state[x.encounter]) for x in new
                                if x.assignment.status is not AssignmentStatus.draft])
        rows = [self._row(x, ids[id(x)], state[x.encounter]) for x in new]
        self._write_code_stubs(ctx, rows)
        counts["assignments"] += ctx.writer.write(
            "coding assignments", WRITE_ASSIGNMENTS, rows, describe_row=lambda r: f"assignment {r['id']}")
        counts["assigned_codes"] += sum(len(r["lines"]) for r in rows)
        counts["revisions"] += sum(1 for r in rows if r["supersedes"])

    def _encounter_known(self, x: AssignmentLine, state: dict[str, Any]) -> bool:
        if x.encounter in state:
            return True
        self.issues.append(f"{Path(x.file).name}:{x.line}: encounter {x.encounter!r} is not in the graph "
                           "(load its FHIR data first)")
        return False

    def _code_issues(self, lines: list[AssignmentLine], state: dict[str, Any], counts: Counter[str]) -> list[str]:
        dated = []
        for x in lines:
            on = _service_date(state[x.encounter]["encounter"])
            for i, c in enumerate(x.assignment.codes):
                where = FhirLocation(x.file, x.line, None, f"assignment.codes[{i}].code")
                dated.append((CodeToCheck(c.system, c.code, where), on))  # type: ignore[arg-type]
        return [str(issue) for issue in self.checker.check(dated, counts)]

    def _evidence_issues(self, graph: Graph, lines: list[AssignmentLine]) -> list[str]:
        pairs = sorted({(x.encounter, e) for x in lines for c in x.assignment.codes for e in c.evidence})
        if not pairs:
            return []
        found = {(r["encounter"], r["evidence"]) for r in graph.read(EVIDENCE_OF_ENCOUNTERS, pairs=pairs)}
        return [f"{Path(x.file).name}:{x.line}: assignment.codes[{i}].evidence[{j}]: evidence of encounter "
                f"{x.encounter} (found {e!r}, which is not)"
                for x in lines for i, c in enumerate(x.assignment.codes) for j, e in enumerate(c.evidence)
                if (x.encounter, e) not in found]

    @staticmethod
    def _claim(x: AssignmentLine, st: dict[str, Any]) -> _Claim:
        return st["encounter"], st["patient"] or {}, st["payer"], x.assignment, _service_date(st["encounter"])

    def _row(self, x: AssignmentLine, assignment_id: str, st: dict[str, Any]) -> dict[str, Any]:
        body = x.assignment
        current = st["current"] or {}
        findings: dict[str, Any] = {"checked": "bulk load: codes exist in the release in force on the service "
                                               "date; ICD-10-CM notes, edits and coverage were not evaluated"}
        drg = None
        if body.status is not AssignmentStatus.draft:
            drg, drg_findings = self.grouping.group(self._claim(x, st))
            findings.update(drg_findings)
        version = (current.get("version") or 0) + 1
        row = assignment_row(x.encounter, assignment_id, body, version=version, supersedes=current.get("id"),
                             payer=st["payer"], drg=drg, findings=findings,
                             created_at=body.created_at or datetime.now(UTC))
        # The next line of this encounter (a later batch) supersedes this one.
        st["current"] = {"id": assignment_id, "version": version}
        return row

    def _write_code_stubs(self, ctx: LoadContext, rows: Iterable[dict[str, Any]]) -> None:
        by_system: dict[str, dict[str, str]] = {}
        for row in rows:
            for line in row["lines"]:
                system_id, _, code = line["key"].partition("|")
                by_system.setdefault(system_id, {})[line["key"]] = code
        for system_id, keys in sorted(by_system.items()):
            if self.checker.releases.get(system_id):
                continue  # checked above: every code is a member of a loaded release
            ctx.writer.write(f"code nodes {system_id}", code_stubs(SYSTEMS[system_id].label),
                             [{"key": k, "code": system(system_id).normalise(c)} for k, c in keys.items()],
                             params={"system": system_id})


register("coding")(CodingBulkLoader)
