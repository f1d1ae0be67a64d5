"""ICD-10-CM codes for an encounter's SNOMED CT findings, through the map's rules as loaded in the graph.

Two reads serve the whole encounter: the findings' map rows (with each target's title and billable flag
in the ICD-10-CM release in force), and the IS-A ancestry of every concept of the encounter. From the
ancestry, ``has_concept(x)`` — the patient has x or a subtype of x — and the IS-A path that proves it are
answered in memory, so no rule queries the graph. The rules are evaluated by ``loaders.snomed.map_rules``,
which stops a group for review rather than take an unreadable or undecidable rule as true.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from graph_service.graph import Graph
from graph_service.models.derivation import (
    ConceptDerivation,
    DeriveIcd10cmIn,
    DeriveIcd10cmOut,
    Icd10cmTarget,
    MapGroupDerivation,
    PathNode,
    PathRel,
    PathStep,
    RuleStep,
    UndecidedRow,
)
from graph_service.models.patient import AgeIn
from graph_service.models.releases import ReleaseInfo
from graph_service.services.releases import list_releases, resolve_release
from loaders.snomed.map_rules import (
    Age,
    ConceptClause,
    Conjunction,
    GroupResult,
    MapStatus,
    PatientContext,
    evaluate_map,
    parse_map_rule,
)
from ontology.code_systems import system
from ontology.release_ranges import code_scope, is_a_path, membership, valid_in, with_scope
from ontology.vocabulary import L, R

SNOMED = system("snomed")
# mapCategoryId values of the SNOMED CT to ICD-10-CM map (the category concepts' preferred terms).
MAP_CATEGORIES = {
    "447637006": "map source concept is properly classified",
    "447638001": "map source concept cannot be classified with the available data",
    "447639009": "map of source concept is context dependent",
}
ICD10CM = system("icd10cm")

MAP_ROWS = f"""
{with_scope()}
// No ICD-10-CM release (none loaded): no target is in one.
OPTIONAL MATCH (icd:{L.Release} {{id: $icd10cm_release}})
WITH scope, {code_scope('icd')} AS icd_scope
UNWIND $concepts AS wanted
OPTIONAL MATCH {membership(f'c:{L.Code} {{key: wanted.key}}', 'm', 'scope')}
CALL (c, icd_scope) {{
  OPTIONAL MATCH (c)-[:{R.HAS_MAP_RULE} {{release: $release}}]->(mr:{L.MapRule})
  OPTIONAL MATCH (mr)-[:{R.MAPS_TO} {{release: $release}}]->(t:{L.ICD10CMCode})
  OPTIONAL MATCH {membership('t', 'tm', 'icd_scope')}
  WITH mr, t, tm ORDER BY mr.group, mr.priority
  RETURN collect(CASE WHEN mr IS NULL THEN null
                      ELSE mr {{.id, .group, .priority, .rule, .advice, .active, .category, target: t.code,
                               target_title: tm.title, target_billable: tm.billable,
                               target_in_release: tm IS NOT NULL}} END) AS rows
}}
RETURN wanted.id AS id, m IS NOT NULL AS found, m.title AS title, m.fsn AS fsn, m.active AS active, rows
"""

# Every concept of the encounter and all its ancestors, each with its parents: the IS-A closure in one read.
ANCESTRY = f"""
{with_scope()}
UNWIND $keys AS key
MATCH {membership(f'c:{L.Code} {{key: key}}', 'cm', 'scope')}
OPTIONAL MATCH {is_a_path('c', 'a', 'scope', '1,')}
WITH scope, collect(DISTINCT c) + collect(DISTINCT a) AS reached
UNWIND reached AS n
WITH DISTINCT n, scope
OPTIONAL MATCH {membership('n', 'm', 'scope')}
OPTIONAL MATCH (n)-[e:{R.IS_A}]->(p) WHERE {valid_in('e', 'scope')}
RETURN n.code AS code, m.title AS title, collect(p.code) AS parents
"""


@dataclass(frozen=True, slots=True)
class GraphMapRow:
    """A MapRule as read from the graph, in the shape the rule evaluator takes."""

    id: str
    concept_id: str
    group: int
    priority: int
    rule: str
    advice: str
    target: str | None
    active: bool
    target_title: str | None
    target_billable: bool | None
    target_in_release: bool
    category: str | None = None  # the map category concept id (447638001: cannot be classified, …)

    @classmethod
    def of(cls, concept_id: str, row: dict[str, Any]) -> GraphMapRow:
        return cls(
            id=row["id"], concept_id=concept_id, group=row["group"], priority=row["priority"], rule=row["rule"],
            advice=row["advice"] or "", target=row["target"], active=bool(row["active"]),
            target_title=row["target_title"], target_billable=row["target_billable"],
            target_in_release=bool(row["target_in_release"]), category=row.get("category"),
        )


class Ancestry:
    """The encounter's concepts and their ancestors; each reached concept remembers the step it came from."""

    def __init__(self, rows: Iterable[dict[str, Any]], encounter_concepts: Iterable[str]) -> None:
        self.parents: dict[str, list[str]] = {}
        self.titles: dict[str, str | None] = {}
        for row in rows:
            self.parents[row["code"]] = sorted(row["parents"])
            self.titles[row["code"]] = row["title"]
        # Breadth first from all the encounter's concepts at once: the path kept to an ancestor is a shortest one.
        self._came_from: dict[str, str | None] = {}
        queue: deque[str] = deque()
        for concept in encounter_concepts:
            if concept in self.parents and concept not in self._came_from:
                self._came_from[concept] = None
                queue.append(concept)
        while queue:
            concept = queue.popleft()
            for parent in self.parents.get(concept, ()):
                if parent not in self._came_from:
                    self._came_from[parent] = concept
                    queue.append(parent)

    def knows(self, concept_id: str) -> bool:
        return concept_id in self.parents

    def has_concept(self, concept_id: str) -> bool:
        """The patient has ``concept_id`` or a subtype of it."""
        return concept_id in self._came_from

    def path_to(self, concept_id: str) -> list[PathStep]:
        """The IS_A path from the encounter's concept to ``concept_id`` (one node when it is the concept)."""
        chain = [concept_id]
        while (step := self._came_from[chain[-1]]) is not None:
            chain.append(step)
        path: list[PathStep] = []
        for code in reversed(chain):
            if path:
                path.append(PathRel(rel=R.IS_A))
            path.append(PathNode(node=code, label=L.SnomedConcept, title=self.titles.get(code)))
        return path


def _age(age: AgeIn | None) -> Age | None:
    if age is None:
        return None
    # Map rules speak years, months and days; a week is seven days.
    return Age(age.value * 7, "days") if age.unit == "weeks" else Age(age.value, age.unit)


def _icd10cm_release(graph: Graph, release: str | None, body: DeriveIcd10cmIn) -> ReleaseInfo | None:
    """The ICD-10-CM release asked for or in force; None when none is loaded and none was asked for."""
    if release is None and not list_releases(graph, ICD10CM.id):
        return None
    return resolve_release(graph, ICD10CM.id, release, body.on)


def _target(row: GraphMapRow, icd10cm: ReleaseInfo | None) -> tuple[Icd10cmTarget | None, list[str]]:
    if row.target is None:
        return None, []
    if icd10cm is None:
        return Icd10cmTarget(code=row.target, title=None, billable=None, in_release=None), []
    warnings = []
    if not row.target_in_release:
        warnings.append(f"{row.target} is not in {icd10cm.id}: the map names a code this release lacks")
    elif row.target_billable is False:
        warnings.append(f"{row.target} is not billable in {icd10cm.id}: a more specific code is needed")
    return Icd10cmTarget(code=row.target, title=row.target_title, billable=row.target_billable,
                         in_release=row.target_in_release), warnings


def _map_path(concept_id: str, concept_title: str | None, row: GraphMapRow) -> list[PathStep]:
    path: list[PathStep] = [
        PathNode(node=concept_id, label=L.SnomedConcept, title=concept_title), PathRel(rel=R.HAS_MAP_RULE),
        PathNode(node=row.id, label=L.MapRule, rule=row.rule),
    ]
    if row.target is not None:
        path += [PathRel(rel=R.MAPS_TO), PathNode(node=row.target, label=L.ICD10CMCode, title=row.target_title)]
    return path


def _concept_paths(row: GraphMapRow, ancestry: Ancestry) -> list[list[PathStep]]:
    """The IS_A paths behind the concept clauses of the rule that held."""
    rule = parse_map_rule(row.rule)  # it held, so it parses
    clauses = rule.clauses if isinstance(rule, Conjunction) else (rule,)
    return [ancestry.path_to(c.concept_id) for c in clauses
            if isinstance(c, ConceptClause) and ancestry.has_concept(c.concept_id)]


def _group(concept_id: str, concept_title: str | None, result: GroupResult, rows: list[GraphMapRow],
           ancestry: Ancestry, icd10cm: ReleaseInfo | None) -> MapGroupDerivation:
    by_priority = {row.priority: row for row in rows if row.active and row.group == result.group}
    explanation = [
        RuleStep(priority=check.priority, map_rule=by_priority[check.priority].id, rule=check.rule,
                 outcome=check.outcome.value, why=check.why, target=check.target)
        for check in result.explanation
    ]
    undecided = [UndecidedRow(priority=r.priority, map_rule=r.id, rule=r.rule, target=r.target)
                 for r in result.remaining if isinstance(r, GraphMapRow)]
    chosen = result.row if isinstance(result.row, GraphMapRow) else None
    if result.status is MapStatus.NEEDS_REVIEW or chosen is None:
        return MapGroupDerivation(
            group=result.group, status=result.status.value, code=None, advice=None, map_rule=None,
            reason=result.reason, explanation=explanation, undecided=undecided, path=[], concept_paths=[])
    code, warnings = _target(chosen, icd10cm)
    # A row that holds and has no target is the map's answer, not a gap: "cannot be classified with the available
    # data" (or what its category says), to be coded from the record, not sent for review.
    answer = (f"no ICD-10-CM code for this group: {MAP_CATEGORIES.get(chosen.category or '', 'no target')}"
              if code is None else None)
    return MapGroupDerivation(
        group=result.group, status=result.status.value, code=code, advice=chosen.advice or None, answer=answer,
        map_category=chosen.category, map_category_name=MAP_CATEGORIES.get(chosen.category or ""),
        map_rule=chosen.id, reason=None, warnings=warnings, explanation=explanation, undecided=[],
        path=_map_path(concept_id, concept_title, chosen), concept_paths=_concept_paths(chosen, ancestry))


def derive_icd10cm(graph: Graph, body: DeriveIcd10cmIn) -> DeriveIcd10cmOut:
    snomed = resolve_release(graph, SNOMED.id, body.release)
    icd10cm = _icd10cm_release(graph, body.icd10cm_release, body)
    findings = list(dict.fromkeys(body.concepts))
    encounter = list(dict.fromkeys(findings + body.other_concepts))

    ancestry = Ancestry(graph.read(ANCESTRY, keys=[SNOMED.key(c) for c in encounter], release=snomed.id),
                        encounter)
    rows = graph.read(MAP_ROWS, concepts=[{"id": c, "key": SNOMED.key(c)} for c in findings], release=snomed.id,
                      icd10cm_release=icd10cm.id if icd10cm else None)
    # A rule on sex holds or fails only for male or female; "other", "unknown" and not given leave it undecided.
    sex = body.patient.sex if body.patient.sex in ("male", "female") else "unknown"
    context = PatientContext(age=_age(body.patient.age), sex=sex,
                             age_at_onset=_age(body.patient.age_at_onset))

    results: dict[str, ConceptDerivation] = {}
    for row in rows:
        concept_id = row["id"]
        if not row["found"]:
            results[concept_id] = ConceptDerivation(
                concept=concept_id, found=False, reason=f"not a concept of SNOMED CT release {snomed.id}")
            continue
        map_rows = [GraphMapRow.of(concept_id, r) for r in row["rows"]]
        groups = [_group(concept_id, row["title"], result, map_rows, ancestry, icd10cm)
                  for result in evaluate_map(map_rows, context, ancestry.has_concept)]
        reasons = [] if row["active"] else [f"inactive in {snomed.id}"]
        if not groups:
            reasons.append(f"no active ICD-10-CM map rows in {snomed.id}")
        results[concept_id] = ConceptDerivation(
            concept=concept_id, found=True, preferred_term=row["title"], fsn=row["fsn"], active=row["active"],
            reason="; ".join(reasons) or None, groups=groups)
    return DeriveIcd10cmOut(
        release=snomed.id, icd10cm_release=icd10cm.id if icd10cm else None, date_of_service=body.on,
        patient=body.patient,
        other_concepts_not_found=[c for c in dict.fromkeys(body.other_concepts) if not ancestry.knows(c)],
        concepts=[results[c] for c in findings],
    )

