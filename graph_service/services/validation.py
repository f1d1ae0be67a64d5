"""Validate a code set on a date of service: existence, billability, validity, and ICD-10-CM notes.

ICD-10-CM instructional notes apply to the code they are written on and to all its descendants,
so each code inherits the notes of its ancestors (category, section, chapter). A note whose
target is "any code under" (``scope: descendants``) is met by the target or any code below it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from graph_service.errors import NotFound
from graph_service.graph import Graph
from graph_service.models.validation import (
    CodeValidity,
    Excludes1Conflict,
    NoteRequirement,
    ValidateCodesIn,
    ValidateCodesOut,
)
from graph_service.reference.code_table import CodeTable
from graph_service.services.codes import MAX_DEPTH, code_table
from graph_service.services.releases import resolve_release
from ontology.code_systems import system
from ontology.release_ranges import is_a_path, membership, valid_in, with_scope
from ontology.vocabulary import L, R

MEMBERSHIP = f"""
{with_scope()}
UNWIND $keys AS key
OPTIONAL MATCH {membership(f'c:{L.Code} {{key: key}}', 'm', 'scope')}
RETURN key, m.title AS title, m.billable AS billable, m.kind AS kind, m IS NOT NULL AS exists
"""

# A note on an ancestor-or-self of ``a`` whose target is ``b`` or (scope descendants) an ancestor of ``b``.
NOTE_MATCHES = f"""
{with_scope()}
UNWIND $keys AS ka
MATCH {membership(f'a:{L.Code} {{key: ka}}', 'am', 'scope')}
MATCH {is_a_path('a', 'src', 'scope', f'0,{MAX_DEPTH}', e='a_up')}
      -[e:{R.EXCLUDES1}|{R.CODE_FIRST}|{R.USE_ADDITIONAL}]->(t)
  WHERE {valid_in('e', 'scope')}
OPTIONAL MATCH {is_a_path('b:' + L.Code, 't', 'scope', f'0,{MAX_DEPTH}', e='b_up')}
  WHERE b.key IN $keys AND b <> a AND (b = t OR e.scope = 'descendants')
RETURN a.code AS code, type(e) AS kind, src.code AS noted_on, e.note AS note, t.code AS target,
       e.condition AS condition, collect(DISTINCT b.code) AS present
"""


VALIDATED_NOTES = (R.EXCLUDES1, R.CODE_FIRST, R.USE_ADDITIONAL)
VALIDATED_KINDS = frozenset(VALIDATED_NOTES)
EXCLUDES1, CODE_FIRST = R.EXCLUDES1, R.CODE_FIRST  # bound once: the vocabulary checks each attribute read

# One note on a code or an ancestor, as the checks read it: (kind, noted_on code, note, target key, target code,
# condition, the target's descendants meet it).
Folded = tuple[str, str, str | None, str, str, str | None, bool]
# A note row met (or not) by the present codes: (code, kind, noted_on, note, target code, condition, present codes).
Row = tuple[str, str, str, str | None, str, str | None, list[str]]
HEADER = "a header: a more specific code is required"  # why a non-billable code is not valid


def folded_notes(table: CodeTable, key: str) -> tuple[Folded, ...]:
    """The validated notes on ``key`` and its ancestors, in the order the checks read them (kind, noted_on, target,
    note; stable, so ties keep the walk's order); folded once per code and release."""
    def fold() -> tuple[Folded, ...]:
        found = [(n.kind, table.code_of(src), n.note, n.target, n.target_code, n.condition, n.scope == "descendants")
                 for src in (key, *(k for k, _ in table.ancestors_by_depth(key)))
                 for n in table.notes_of(src, VALIDATED_KINDS)]
        return tuple(sorted(found, key=lambda f: (f[0], f[1], f[4], f[2] or "")))
    return table.derived("validated_notes", key, fold)


def _note_rows(table: CodeTable, keys: list[str]) -> list[Row]:
    """``NOTE_MATCHES`` answered from the release table, in the order ``_icd10cm_notes`` reads them: each note on an
    ancestor-or-self of a present code, with the other present codes that meet it (the target itself, or for a
    ``descendants`` note any code under the target)."""
    present = dict.fromkeys(keys)
    under = table.present_under(present)
    code_of = table.code_of
    rows: list[Row] = []
    for a in sorted(present, key=code_of):
        code = code_of(a)
        for kind, noted_on, note, target, target_code, condition, descendants in folded_notes(table, a):
            meeting = under.get(target) if descendants else ((target,) if target in present else None)
            others = sorted(code_of(b) for b in meeting if b != a) if meeting else []
            if kind == EXCLUDES1 and not others:
                continue  # an exclusion no other code of the set meets yields no conflict: no row to build
            rows.append((code, kind, noted_on, note, target_code, condition, others))
    return rows


def _graph_rows(graph: Graph, keys: list[str], release: str) -> list[Row]:
    rows = [(r["code"], r["kind"], r["noted_on"], r["note"], r["target"], r["condition"], sorted(r["present"]))
            for r in graph.read(NOTE_MATCHES, keys=keys, release=release)]
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[4], r[3] or ""))  # the table's order; first wins below
    return rows


def _icd10cm_notes(graph: Graph, table: CodeTable | None, keys: list[str], release: str,
                   codes_in_order: list[str]) -> tuple[list[Excludes1Conflict], list[NoteRequirement]]:
    rows = _note_rows(table, keys) if table is not None else _graph_rows(graph, keys, release)
    conflicts: dict[tuple[str, ...], Excludes1Conflict] = {}
    # One requirement per instruction (code, kind, noted_on): its listed conditions are alternatives ("code first,
    # such as: …"). Per instruction: targets, (target, note) pairs, the present codes meeting it, and the conditions
    # of its alternatives (None for an alternative that always applies).
    found: dict[tuple[str, str, str], tuple[set[str], set[tuple[str, str]], set[str], set[str | None]]] = {}
    for code, kind, noted_on, note, target, condition, others in rows:
        if kind == EXCLUDES1:
            for other in others:
                pair = (code, other) if code <= other else (other, code)
                if pair not in conflicts:
                    conflicts[pair] = Excludes1Conflict(code=code, excluded=other, noted_on=noted_on, target=target,
                                                        note=note)
            continue
        targets, notes, met_by, conditions = found.setdefault((code, kind, noted_on), (set(), set(), set(), set()))
        targets.add(target)
        if note:
            notes.add((target, note))
        conditions.add(condition)
        met_by.update(others)
    position = {code: i for i, code in enumerate(codes_in_order)}
    requirements = []
    for (code, kind, noted_on), (targets, notes, met_by, conditions) in sorted(found.items()):
        met = sorted(met_by)
        requirements.append(NoteRequirement(
            code=code, kind=kind, noted_on=noted_on, targets=sorted(targets), met_by=met,
            notes=list(dict.fromkeys(note for _, note in sorted(notes))),  # in target order
            # Every alternative says "if applicable" (or "if known"): the codes alone cannot tell it is unmet.
            condition=None if None in conditions else ", ".join(sorted(c for c in conditions if c)),
            # The etiology must come before the manifestation in the submitted sequence.
            sequenced_correctly=(min(position[c] for c in met) < position[code]
                                 if kind == CODE_FIRST and met else None)))
    return list(conflicts.values()), requirements


def _membership(table: CodeTable, key: str) -> dict[str, Any]:
    entry = table.entries.get(key)
    if entry is None:
        return {"key": key, "title": None, "billable": None, "kind": None, "exists": False}
    return {"key": key, "title": entry.title, "billable": entry.billable, "kind": entry.kind, "exists": True}


def validate_codes(graph: Graph, body: ValidateCodesIn) -> ValidateCodesOut:
    return check_codes(graph, [(item.system, item.code) for item in body.codes], body.date_of_service, body.release)


def check_codes(graph: Graph, codes_in: list[tuple[str, str]], on: date | None,
                release: str | None = None) -> ValidateCodesOut:
    """``validate_codes`` for (system, code) pairs already checked (the evaluation's codes): without a date of
    service, the latest visible release of each system, said in release_used."""
    by_system: dict[str, list[str]] = defaultdict(list)
    positions: dict[str, list[int]] = defaultdict(list)  # each code's place in the request, per system
    for position, (system_id, code) in enumerate(codes_in):
        by_system[system_id].append(code)
        positions[system_id].append(position)
    results: list[CodeValidity] = []
    conflicts: list[Excludes1Conflict] = []
    requirements: list[NoteRequirement] = []
    releases: dict[str, str] = {}
    for system_id, codes in by_system.items():
        cs = system(system_id)
        try:
            rel = resolve_release(graph, cs.releases_of, release, on)
        except NotFound as exc:
            results += [CodeValidity(system=cs.id, code=cs.normalise(c), exists=False, billable=None, position=p,
                                     valid_on_date=False, release=None, reason=exc.detail)
                        for c, p in zip(codes, positions[system_id], strict=True)]
            continue
        releases[cs.id] = rel.id
        normalised = [cs.normalise(c) for c in codes]
        keys = [cs.key(c) for c in normalised]
        table = code_table(graph, cs, rel)
        if table is not None:
            rows = {k: _membership(table, k) for k in keys}
        else:
            rows = {r["key"]: r for r in graph.read(MEMBERSHIP, keys=keys, release=rel.id)}
        for code, key, position in zip(normalised, keys, positions[system_id], strict=True):
            row = rows[key]
            reason = None
            if not row["exists"]:
                reason = f"not a code of {rel.id}" if cs.accepts(code) else f"not a well-formed {cs.name} code"
            elif not row["billable"]:
                reason = HEADER
            results.append(CodeValidity(
                system=cs.id, code=code, position=position, exists=row["exists"], billable=row["billable"],
                title=row["title"],
                valid_on_date=bool(row["exists"] and row["billable"]), release=rel.id, reason=reason))
        if cs.id == "icd10cm":
            present = [k for k, c in zip(keys, normalised, strict=True) if rows[k]["exists"]]
            c1, reqs = _icd10cm_notes(graph, table, present, rel.id, normalised)
            conflicts += c1
            requirements += reqs
    results.sort(key=lambda r: r.position)  # the order of the request, whatever the systems
    note = None if on is not None or release else (
        "no date of service given: each system's latest visible release was used")
    return ValidateCodesOut(
        date_of_service=on, releases=releases, release_used=releases, release_note=note, codes=results,
        excludes1_conflicts=conflicts,
        unmet_requirements=[r for r in requirements
                            if (not r.met_by and r.condition is None) or r.sequenced_correctly is False],
        conditional_requirements=[r for r in requirements if not r.met_by and r.condition is not None],
        met_requirements=[r for r in requirements if r.met_by and r.sequenced_correctly is not False],
    )
