"""The valid and ICD-10-CM note checks of an evaluation as plain records: what ``validation.check_codes`` answers,
without its response models, for the parts the evaluation reads (each code's validity, the Excludes1 conflicts,
the unmet or mis-sequenced code first / use additional instructions).

What depends only on a code and its release — its Excludes1 notes and its instructions grouped with their targets,
notes and conditions, folded from its ancestors — is kept per code in the release's table (``CodeTable.derived``),
so it is dropped with the table when the release is promoted, retracted or reloaded. Per claim, what remains is a
lookup per code and the matching of notes against the other codes present. When a system's table is not held in
memory (or is being built), the whole set is checked by ``check_codes`` (graph path) and read back from its models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from graph_service.errors import NotFound
from graph_service.graph import Graph
from graph_service.reference.code_table import CodeTable
from graph_service.services.codes import code_table
from graph_service.services.releases import resolve_release
from graph_service.services.validation import CODE_FIRST, EXCLUDES1, HEADER, check_codes, folded_notes
from ontology.code_systems import system


@dataclass(slots=True)  # not frozen: one per code of every claim, and a frozen init costs a setattr per field
class CodeCheck:
    system: str
    code: str  # normalised
    release: str | None  # None: no release of the system is in force on the date
    exists: bool
    billable: bool | None
    reason: str | None  # why it is not valid on the date


@dataclass(frozen=True, slots=True)
class Exclusion:
    code: str  # the code whose (inherited) Excludes1 note applies
    excluded: str  # the other code of the set the note excludes
    noted_on: str
    target: str
    note: str | None


@dataclass(frozen=True, slots=True)
class Requirement:
    code: str
    kind: str  # CODE_FIRST or USE_ADDITIONAL
    noted_on: str
    targets: tuple[str, ...]  # shared with the release's cached notes (``_Instruction``): never mutated
    notes: tuple[str, ...]
    met_by: list[str]


@dataclass
class CodeChecks:
    date_of_service: date
    releases: dict[str, str]  # system → release in force, for the systems that have one
    codes: list[CodeCheck]  # in the order asked
    excludes1: list[Exclusion]
    unmet: list[Requirement]  # not met (unconditionally), or met by a code sequenced after it (code first)


# ---- what one ICD-10-CM code carries, once per release ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Instruction:
    """One code first / use additional instruction on a code or an ancestor, its alternatives gathered."""

    kind: str
    noted_on: str
    targets: tuple[str, ...]  # target codes, sorted (tuples: the instruction is cached per release and shared)
    notes: tuple[str, ...]  # the alternatives' texts, in target order
    condition: str | None  # None when an alternative always applies ("if applicable" alternatives otherwise)
    meets: tuple[tuple[str, bool], ...]  # (target key, its descendants meet it too)


@dataclass(frozen=True, slots=True)
class _CodeNotes:
    # (noted_on, note, target key, target code, descendants meet it), in the order validation reads them
    excludes1: tuple[tuple[str, str | None, str, str, bool], ...]
    instructions: tuple[_Instruction, ...]  # by (kind, noted_on)
    # The Excludes1 targets' keys: a code none of whose targets is at or above a present code has no conflict, and
    # most codes of a claim have none — one set test instead of a walk over its notes.
    excludes1_targets: frozenset[str]


def _code_notes(table: CodeTable, key: str) -> _CodeNotes:
    def build() -> _CodeNotes:
        excludes1 = []
        grouped: dict[tuple[str, str], tuple[set[str], set[tuple[str, str]], set[str | None], list[tuple[str, bool]]]]
        grouped = {}
        for kind, noted_on, note, target, target_code, condition, descendants in folded_notes(table, key):
            if kind == EXCLUDES1:
                excludes1.append((noted_on, note, target, target_code, descendants))
                continue
            targets, notes, conditions, meets = grouped.setdefault((kind, noted_on), (set(), set(), set(), []))
            targets.add(target_code)
            if note:
                notes.add((target_code, note))
            conditions.add(condition)
            meets.append((target, descendants))
        instructions = tuple(
            _Instruction(kind=kind, noted_on=noted_on, targets=tuple(sorted(targets)),
                         notes=tuple(dict.fromkeys(note for _, note in sorted(notes))),
                         condition=None if None in conditions else ", ".join(sorted(c for c in conditions if c)),
                         meets=tuple(dict.fromkeys(meets)))
            for (kind, noted_on), (targets, notes, conditions, meets) in sorted(grouped.items()))
        return _CodeNotes(tuple(excludes1), instructions, frozenset(e[2] for e in excludes1))
    return table.derived("evaluation_notes", key, build)


def _icd10cm_notes(table: CodeTable, present: dict[str, str], codes_in_order: list[str]
                   ) -> tuple[list[Exclusion], list[Requirement]]:
    """``validation._icd10cm_notes`` (table path) for what the evaluation reports: the same conflicts in the same
    order, and the requirements it lists as unmet. ``present``: each present code's key → its code, in claim order."""
    up = {key: table.self_and_ancestors(key) for key in present}
    nodes: set[str] = set().union(*up.values())  # every node at or above a present code
    below: dict[str, list[str]] = {}  # node → the present codes at or below it, asked for the few nodes notes name

    def under(node: str) -> list[str]:
        found = below.get(node)
        if found is None:
            found = below[node] = [b for b, above in up.items() if node in above] if node in nodes else []
        return found

    position = {code: i for i, code in enumerate(codes_in_order)}
    conflicts: dict[tuple[str, str], Exclusion] = {}
    unmet: list[Requirement] = []
    for a, code in sorted(present.items(), key=lambda kv: kv[1]):
        notes = _code_notes(table, a)
        if not notes.excludes1_targets.isdisjoint(nodes):  # else no target is at or above a present code
            _exclusions(notes, a, code, present, under, conflicts)
        for ins in notes.instructions:
            met: set[str] = set()
            for target, descendants in ins.meets:
                meeting = under(target) if descendants else ((target,) if target in present else None)
                if meeting:
                    met.update(present[b] for b in meeting if b != a)
            if met:
                if ins.kind != CODE_FIRST or min(position[c] for c in met) < position[code]:
                    continue  # met, and (code first) the etiology comes before it
            elif ins.condition is not None:
                continue  # conditional ("if applicable"): the codes alone cannot tell it is unmet
            unmet.append(Requirement(code, ins.kind, ins.noted_on, ins.targets, ins.notes, sorted(met)))
    unmet.sort(key=lambda r: (r.code, r.kind, r.noted_on))
    return list(conflicts.values()), unmet


def _exclusions(notes: _CodeNotes, a: str, code: str, present: dict[str, str], under: Callable[[str], list[str]],
                conflicts: dict[tuple[str, str], Exclusion]) -> None:
    """The Excludes1 conflicts of code ``a`` with the other present codes, each pair once (the first note wins)."""
    for noted_on, note, target, target_code, descendants in notes.excludes1:
        meeting = under(target) if descendants else ((target,) if target in present else None)
        if not meeting:
            continue
        for other in sorted(present[b] for b in meeting if b != a):
            pair = (code, other) if code <= other else (other, code)
            if pair not in conflicts:
                conflicts[pair] = Exclusion(code, other, noted_on, target_code, note)


# ---- the whole set -------------------------------------------------------------------------------------------------
def check_claim_codes(graph: Graph, codes_in: list[tuple[str, str]], on: date) -> CodeChecks:
    """Each (system, code) checked against the release of its system in force on ``on``."""
    by_system: dict[str, list[int]] = {}
    for position, (system_id, _) in enumerate(codes_in):
        by_system.setdefault(system_id, []).append(position)
    checks: list[CodeCheck | None] = [None] * len(codes_in)
    releases: dict[str, str] = {}
    excludes1: list[Exclusion] = []
    unmet: list[Requirement] = []
    for system_id, positions in by_system.items():
        cs = system(system_id)
        codes = [cs.normalise(codes_in[p][1]) for p in positions]
        try:
            rel = resolve_release(graph, cs.releases_of, None, on)
        except NotFound as exc:
            for code, p in zip(codes, positions, strict=True):
                checks[p] = CodeCheck(cs.id, code, None, False, None, exc.detail)
            continue
        table = code_table(graph, cs, rel)
        if table is None:
            return _from_graph(graph, codes_in, on)
        releases[cs.id] = rel.id
        entries = table.entries
        present: dict[str, str] = {}  # key → code of the codes the release has, first occurrence first
        for code, p in zip(codes, positions, strict=True):
            key = cs.key(code)
            entry = entries.get(key)
            if entry is None:
                reason = f"not a code of {rel.id}" if cs.accepts(code) else f"not a well-formed {cs.name} code"
                checks[p] = CodeCheck(cs.id, code, rel.id, False, None, reason)
                continue
            present.setdefault(key, entry.code)
            checks[p] = CodeCheck(cs.id, code, rel.id, True, entry.billable, None if entry.billable else HEADER)
        if cs.id == "icd10cm":
            excludes1, unmet = _icd10cm_notes(table, present, codes)
    return CodeChecks(on, releases, checks, excludes1, unmet)  # type: ignore[arg-type]


def _from_graph(graph: Graph, codes_in: list[tuple[str, str]], on: date) -> CodeChecks:
    out = check_codes(graph, codes_in, on)
    return CodeChecks(
        out.date_of_service or on, dict(out.releases),
        [CodeCheck(v.system, v.code, v.release, v.exists, v.billable, v.reason) for v in out.codes],
        [Exclusion(c.code, c.excluded, c.noted_on, c.target, c.note) for c in out.excludes1_conflicts],
        [Requirement(r.code, r.kind, r.noted_on, tuple(r.targets), tuple(r.notes), r.met_by)
         for r in out.unmet_requirements])
