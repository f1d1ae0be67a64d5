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
from ontology.vocabulary import L, R

MEMBERSHIP = f"""
UNWIND $keys AS key
OPTIONAL MATCH (c:{L.Code} {{key: key}})-[m:{R.IN_RELEASE}]->(:{L.Release} {{id: $release}})
RETURN key, m.title AS title, m.billable AS billable, m.kind AS kind, m IS NOT NULL AS exists
"""

# A note on an ancestor-or-self of ``a`` whose target is ``b`` or (scope descendants) an ancestor of ``b``.
NOTE_MATCHES = f"""
UNWIND $keys AS ka
MATCH (a:{L.Code} {{key: ka}})-[:{R.IN_RELEASE}]->(:{L.Release} {{id: $release}})
MATCH (a)-[:{R.IS_A}*0..{MAX_DEPTH} {{release: $release}}]->(src)
      -[e:{R.EXCLUDES1}|{R.CODE_FIRST}|{R.USE_ADDITIONAL} {{release: $release}}]->(t)
OPTIONAL MATCH (b:{L.Code})-[:{R.IS_A}*0..{MAX_DEPTH} {{release: $release}}]->(t)
  WHERE b.key IN $keys AND b <> a AND (b = t OR e.scope = 'descendants')
RETURN a.code AS code, type(e) AS kind, src.code AS noted_on, e.note AS note, t.code AS target,
       e.condition AS condition, collect(DISTINCT b.code) AS present
"""


VALIDATED_NOTES = (R.EXCLUDES1, R.CODE_FIRST, R.USE_ADDITIONAL)
VALIDATED_KINDS = frozenset(VALIDATED_NOTES)


def _note_rows(table: CodeTable, keys: list[str]) -> list[dict[str, Any]]:
    """``NOTE_MATCHES`` answered from the release table: each note on an ancestor-or-self of a present code,
    with the other present codes that meet it (the target itself, or for a ``descendants`` note any code
    under the target)."""
    present = dict.fromkeys(keys)
    under: dict[str, set[str]] = defaultdict(set)  # target → present codes at or below it
    for b in present:
        under[b].add(b)
        for ancestor in table.ancestor_keys(b):
            under[ancestor].add(b)
    rows = []
    for a in present:
        for src in (a, *(k for k, _ in table.ancestors_by_depth(a))):
            for note in table.notes_of(src, VALIDATED_KINDS):
                if note.scope == "descendants":
                    meeting = under.get(note.target, ())
                else:
                    meeting = (note.target,) if note.target in present else ()
                if note.kind == R.EXCLUDES1 and not any(b != a for b in meeting):
                    continue  # an exclusion no other code of the set meets yields no conflict: no row to build
                rows.append({"code": table.code_of(a), "kind": note.kind, "noted_on": table.code_of(src),
                             "note": note.note, "target": note.target_code, "condition": note.condition,
                             "present": sorted(table.code_of(b) for b in meeting if b != a)})
    return rows


def _icd10cm_notes(graph: Graph, table: CodeTable | None, keys: list[str], release: str,
                   codes_in_order: list[str]) -> tuple[list[Excludes1Conflict], list[NoteRequirement]]:
    rows = _note_rows(table, keys) if table is not None else graph.read(NOTE_MATCHES, keys=keys, release=release)
    rows.sort(key=lambda r: (r["code"], r["kind"], r["noted_on"], r["target"], r["note"] or ""))  # first wins below
    conflicts: dict[tuple[str, str], Excludes1Conflict] = {}
    requirements: dict[tuple[str, str, str], NoteRequirement] = {}
    targets_by_note: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    notes_by_note: dict[tuple[str, str, str], set[tuple[str, str]]] = defaultdict(set)
    # The conditions of an instruction's alternatives; None for an alternative that always applies.
    conditions_by_note: dict[tuple[str, str, str], set[str | None]] = defaultdict(set)
    position = {code: i for i, code in enumerate(codes_in_order)}
    for row in rows:
        if row["kind"] == R.EXCLUDES1:
            for other in sorted(row["present"]):
                pair = tuple(sorted((row["code"], other)))
                conflicts.setdefault(pair, Excludes1Conflict(
                    code=row["code"], excluded=other, noted_on=row["noted_on"], target=row["target"],
                    note=row["note"]))
            continue
        # One requirement per instruction: its listed conditions are alternatives ("code first, such as: …").
        key = (row["code"], row["kind"], row["noted_on"])
        targets_by_note[key].add(row["target"])
        req = requirements.setdefault(key, NoteRequirement(
            code=row["code"], kind=row["kind"], noted_on=row["noted_on"], notes=[], met_by=[],
            targets=[], sequenced_correctly=None))
        if row["note"]:
            notes_by_note[key].add((row["target"], row["note"]))
        conditions_by_note[key].add(row.get("condition"))
        req.met_by = sorted(set(req.met_by) | set(row["present"]))
    for key, req in requirements.items():
        req.targets = sorted(targets_by_note[key])
        req.notes = list(dict.fromkeys(note for _, note in sorted(notes_by_note[key])))  # in target order
        if None not in conditions_by_note[key]:
            # Every alternative says "if applicable" (or "if known"): the codes alone cannot tell it is unmet.
            req.condition = ", ".join(sorted(c for c in conditions_by_note[key] if c))
        if req.kind == R.CODE_FIRST and req.met_by:
            # The etiology must come before the manifestation in the submitted sequence.
            req.sequenced_correctly = min(position[c] for c in req.met_by) < position[req.code]
    return list(conflicts.values()), sorted(requirements.values(), key=lambda r: (r.code, r.kind, r.noted_on))


def _membership(table: CodeTable, key: str) -> dict[str, Any]:
    entry = table.entries.get(key)
    if entry is None:
        return {"key": key, "title": None, "billable": None, "kind": None, "exists": False}
    return {"key": key, "title": entry.title, "billable": entry.billable, "kind": entry.kind, "exists": True}


def validate_codes(graph: Graph, body: ValidateCodesIn) -> ValidateCodesOut:
    by_system: dict[str, list[str]] = defaultdict(list)
    positions: dict[str, list[int]] = defaultdict(list)  # each code's place in the request, per system
    for position, item in enumerate(body.codes):
        by_system[item.system].append(item.code)
        positions[item.system].append(position)
    results: list[CodeValidity] = []
    conflicts: list[Excludes1Conflict] = []
    requirements: list[NoteRequirement] = []
    releases: dict[str, str] = {}
    on: date | None = body.date_of_service  # none: the latest visible release of each system, said in release_used
    for system_id, codes in by_system.items():
        cs = system(system_id)
        try:
            rel = resolve_release(graph, cs.releases_of, body.release, on)
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
                reason = "a header: a more specific code is required"
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
    note = None if on is not None or body.release else (
        "no date of service given: each system's latest visible release was used")
    return ValidateCodesOut(
        date_of_service=on, releases=releases, release_used=releases, release_note=note, codes=results,
        excludes1_conflicts=conflicts,
        unmet_requirements=[r for r in requirements
                            if (not r.met_by and r.condition is None) or r.sequenced_correctly is False],
        conditional_requirements=[r for r in requirements if not r.met_by and r.condition is not None],
        met_requirements=[r for r in requirements if r.met_by and r.sequenced_correctly is not False],
    )
