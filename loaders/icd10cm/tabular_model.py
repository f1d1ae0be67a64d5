"""The tabular list held in memory and its instructional notes resolved to codes of the same release.

What a tabular load computes before its first write: the parsed chapters, sections, codes and notes
(``TabularModel``), each note's code references resolved against the release (``NoteResolver``: ranges,
wildcards, "code also" qualifiers) into EXCLUDES1/EXCLUDES2/CODE_FIRST/USE_ADDITIONAL/CODE_ALSO edge rows,
and the notes naming no code of the release, kept as text (``parse_tabular``). A load reads the model (which the
demo runs ahead of the load: ``loaders/machinery/parse_ahead.py``) and resolves the notes in a second process
while it builds the code rows (``NotesAside``).
"""

from __future__ import annotations

import gc
import multiprocessing
import signal
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loaders.icd10cm.codes import code_sort_key, in_range, strip_dot
from loaders.icd10cm.note_conditions import Qualifier, note_condition, parse_qualifier, qualifier_spans
from loaders.icd10cm.note_refs import NoteReference, extract_note_references
from loaders.icd10cm.tabular import Icd10cmChapter, Icd10cmCode, Icd10cmNote, Icd10cmSection, parse_icd10cm_tabular
from loaders.machinery.gc_pause import gc_paused
from ontology.code_systems import system
from ontology.vocabulary import R

ICD10CM = system("icd10cm")

EDGE_NOTES = {
    "excludes1": R.EXCLUDES1,
    "excludes2": R.EXCLUDES2,
    "code_first": R.CODE_FIRST,
    "use_additional": R.USE_ADDITIONAL,
    "code_also": R.CODE_ALSO,
}



def chapter_code(number: int) -> str:
    return f"CH{number:02d}"


def section_code(section_id: str) -> str:
    """Sections are keyed as ranges; a one-category section (id "B10") becomes "B10-B10" so it never
    collides with the category of the same name."""
    return section_id if "-" in section_id else f"{section_id}-{section_id}"


@dataclass
class TabularModel:
    """The parsed tabular list, held in memory (≈100k codes) so note targets can be resolved."""

    chapters: list[Icd10cmChapter] = field(default_factory=list)
    sections: list[Icd10cmSection] = field(default_factory=list)
    codes: list[Icd10cmCode] = field(default_factory=list)
    notes: list[Icd10cmNote] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> TabularModel:
        model = cls()
        for rec in parse_icd10cm_tabular(path):
            match rec:
                case Icd10cmCode():
                    model.codes.append(rec)
                case Icd10cmNote():
                    model.notes.append(rec)
                case Icd10cmSection():
                    model.sections.append(rec)
                case Icd10cmChapter():
                    model.chapters.append(rec)
        return model

    def source_code(self, note: Icd10cmNote) -> str:
        if note.source_kind == "chapter":
            return chapter_code(int(note.source))
        return section_code(note.source) if note.source_kind == "section" else note.source


class NoteResolver:
    """Turns a note's code references into target codes of the same release."""

    def __init__(self, codes: set[str], section_ids: set[str], finals: set[str] | None = None,
                 enclosing: Mapping[str, tuple[str, str]] | None = None) -> None:
        self.codes = codes
        self.section_ids = section_ids
        self.finals = finals or set()  # codes subdivided no further (but for a 7th character)
        # category -> (its section, its chapter): a range that holds every category of a chapter or a section is
        # pointed at that chapter or section, not at each category (``cover``).
        self.enclosing = dict(enclosing or {})
        self._members: dict[str, set[str]] = defaultdict(set)
        for category, (section, chapter) in self.enclosing.items():
            self._members[section].add(category)
            self._members[chapter].add(category)
        sort_key = {code: code_sort_key(code) for code in codes}
        # Codes of one written length in tabular order: a range is then one contiguous run, found by bisection
        # (scanning every code of the length per reference was a third of a load's wall time).
        by_length: dict[int, list[str]] = defaultdict(list)
        for code in codes:
            by_length[len(code)].append(code)
        self.ordered = {width: sorted(group, key=sort_key.__getitem__) for width, group in by_length.items()}
        self.sort_keys = {width: [sort_key[c] for c in group] for width, group in self.ordered.items()}
        # Every code in tabular order: a code's descendants follow it, so "at or under" is one contiguous run.
        self.preorder = sorted((c for c in codes if c not in section_ids), key=sort_key.__getitem__)
        self.preorder_keys = [sort_key[c] for c in self.preorder]
        self._under: dict[tuple[str, str], list[str]] = {}
        # "(T36-T65 with fifth or sixth character 1-4)" is written on ~20 codes: its ~1,100 targets are chosen once.
        self._qualified: dict[tuple[tuple[str, str], Qualifier], tuple[tuple[str, str], ...]] = {}

    def targets(self, ref: NoteReference) -> list[tuple[str, str]]:
        """(target code, scope) pairs; scope 'code' or 'descendants' (any code under the target)."""
        if ref.kind == "range":
            assert ref.code_to is not None
            section = f"{ref.code}-{ref.code_to}"
            if section in self.section_ids:
                return [(section, "descendants")]
            return [(c, "descendants") for c in self.cover(self.in_range(ref.code, ref.code_to))]
        if ref.code in self.codes:
            return [(ref.code, "descendants" if ref.kind == "under" else "code")]
        return []

    def at_or_under(self, ref: NoteReference) -> list[str]:
        """Every code the reference covers, with all codes under them, in tabular order."""
        first, last = bounds = _bounds(ref)
        found = self._under.get(bounds)
        if found is None:
            lo, hi = code_sort_key(first), code_sort_key(last)
            found = []
            for i in range(bisect_left(self.preorder_keys, lo), len(self.preorder)):
                key = self.preorder_keys[i]
                if key[: len(hi)] > hi:
                    break
                if len(key) >= len(lo) and len(key) >= len(hi) and key[: len(lo)] >= lo:
                    found.append(self.preorder[i])
            self._under[bounds] = found
        return found

    def cover(self, inside: list[str]) -> list[str]:
        """The categories of a range as the fewest hierarchy nodes, in tabular order: a chapter or a section whose
        categories are all inside stands for them ("(A00-B99)" is chapter 1, "(T36-T65)" two sections).

        A chapter-level "Excludes2: … (C00-D49)" named each of its ~200 categories before, and every code of the
        chapter inherits it: a code's notes ran to a thousand targets (230 KB per lookup in chapter 13). The node
        means the same to every reader: a note's ``descendants`` target is met by any code under it."""
        if len(inside) < 2 or not self.enclosing:
            return inside
        left = set(inside)
        chosen: dict[str, str] = {}  # category -> the node standing for it
        tried: set[str] = set()  # each node is tested once per range
        for category in inside:
            if category in chosen or category not in self.enclosing:
                continue
            for node in reversed(self.enclosing[category]):  # the chapter first: the broadest node that fits
                if node in tried:
                    continue
                tried.add(node)
                if self._members[node] <= left:
                    chosen |= dict.fromkeys(self._members[node], node)
                    break
        found: list[str] = []
        for category in inside:
            node = chosen.get(category, category)
            if not found or found[-1] != node:
                found.append(node)
        return found

    def qualified_targets(self, ref: NoteReference, qualifier: Qualifier) -> tuple[tuple[str, str], ...]:
        """The highest codes under ``ref`` that the qualifier selects ("E08-E13 with .42" → E08.42, E09.42, …),
        each with everything under it."""
        written = (_bounds(ref), qualifier)
        found = self._qualified.get(written)
        if found is None:
            chosen: list[str] = []
            chosen_bare = ""
            for code in self.at_or_under(ref):
                bare = strip_dot(code)
                if chosen and bare.startswith(chosen_bare):
                    continue  # under a code already chosen
                if qualifier.selects(code, code in self.finals):
                    chosen.append(code)
                    chosen_bare = bare
            found = self._qualified[written] = tuple((c, "descendants") for c in chosen)  # shared: immutable
        return found

    def in_range(self, first: str, last: str) -> list[str]:
        """Codes as long as ``first`` (as written) inside ``first``–``last``: from the first code not before
        ``first``, while still in range (the test against ``last`` only turns false once, in tabular order)."""
        width = len(first)
        ordered = self.ordered.get(width, [])
        found: list[str] = []
        for code in ordered[bisect_left(self.sort_keys.get(width, []), code_sort_key(first)):]:
            if not in_range(code, first, last):
                break
            found.append(code)
        return found


def _bounds(ref: NoteReference) -> tuple[str, str]:
    """The first and last code a reference spans, without dots (one code for anything but a range)."""
    first = strip_dot(ref.code)
    return first, strip_dot(ref.code_to) if ref.kind == "range" and ref.code_to else first


def _finals(model: TabularModel) -> set[str]:
    """Codes with no subdivision but a generated 7th character ("final characters" in a qualifier)."""
    subdivided = {c.parent for c in model.codes if not c.generated_7th}
    return {c.code for c in model.codes if not c.generated_7th and c.code not in subdivided}


def note_conditions(notes: list[Icd10cmNote]) -> list[str | None]:
    """Each note's condition ("if applicable", …): its own, or that of the lead line of its instruction
    ("Use additional code, if applicable, to identify:" followed by the listed items). The parser yields an
    instruction's notes one after another, so an instruction is a run of notes of one source and kind."""
    found: list[str | None] = []
    lead: str | None = None
    previous: tuple[str, str, str] | None = None
    for note in notes:
        place = (note.source_kind, note.source, note.kind)
        if place != previous:
            lead = note_condition(note.text) if note.text.endswith(":") else None
            previous = place
        found.append(lead or note_condition(note.text))
    return found


def note_targets(resolver: NoteResolver, text: str) -> list[tuple[str, str, str | None]]:
    """(target, scope, qualifier) for each code a note's text points at; a reference inside a group such as
    "(E08-E13 with .42)" points only at the codes the qualifier selects."""
    spans = qualifier_spans(text)
    found: list[tuple[str, str, str | None]] = []
    for ref in extract_note_references(text):
        words = next((q for start, end, q in spans if start <= ref.start < end), None)
        qualifier = parse_qualifier(words) if words else None
        if qualifier is not None:
            found += [(t, scope, qualifier.text) for t, scope in resolver.qualified_targets(ref, qualifier)]
        else:
            found += [(t, scope, words) for t, scope in resolver.targets(ref)]
    return found


def note_edges(model: TabularModel, counts: dict[str, int]) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Edge rows by type and the unresolved note texts by source code.

    One edge per (source, type, target, note text): two notes of a code naming the same target both stay
    ("D06 excludes1 … (N87.1)" twice, with different words). A note whose only target is its own source
    is kept as text with the unresolved ones, so no note text is lost."""
    sections = {section_code(s.id) for s in model.sections}
    chapter_of = {s.id: chapter_code(s.chapter) for s in model.sections}
    enclosing = {c.code: (section_code(c.parent), chapter_of[c.parent]) for c in model.codes if c.depth == 1}
    resolver = NoteResolver({c.code for c in model.codes} | sections, sections, _finals(model), enclosing)
    rows: list[dict[str, Any]] = []
    unresolved: dict[str, list[str]] = defaultdict(list)
    seen: set[tuple[str, str, str, str]] = set()
    conditions = note_conditions(model.notes)
    for note, condition in zip(model.notes, conditions, strict=True):
        rel_type = EDGE_NOTES.get(note.kind)
        if rel_type is None:
            continue
        source = model.source_code(note)
        targets = [t for t in note_targets(resolver, note.text) if t[0] != source]
        if not targets:
            unresolved[source].append(f"{note.kind}: {note.text}")
            counts[f"notes_unresolved_{note.kind}"] = counts.get(f"notes_unresolved_{note.kind}", 0) + 1
            continue
        counts[f"notes_resolved_{note.kind}"] = counts.get(f"notes_resolved_{note.kind}", 0) + 1
        for target, scope, qualifier in targets:
            if (source, rel_type, target, note.text) in seen:
                continue
            seen.add((source, rel_type, target, note.text))
            props: dict[str, Any] = {"note": note.text, "scope": scope}
            if condition:
                props["condition"] = condition
            if qualifier:
                props["qualifier"] = qualifier
            rows.append({"type": rel_type, "source": ICD10CM.key(source), "target": ICD10CM.key(target),
                         "props": props})
    return rows, unresolved


@dataclass
class ParsedTabular:
    """A tabular XML parsed and its notes resolved: everything the load computes before its first write."""

    model: TabularModel
    edges: list[dict[str, Any]]
    unresolved: dict[str, list[str]]
    counts: dict[str, int]


def parse_tabular(paths: list[Path]) -> ParsedTabular:
    with gc_paused():  # ~100k codes and their notes stay live until written
        model = TabularModel.read(paths[0])
        counts: dict[str, int] = {}
        edges, unresolved = note_edges(model, counts)
    return ParsedTabular(model, edges, unresolved, counts)


def read_model(paths: list[Path]) -> TabularModel:
    """The tabular model alone (its notes resolved later: ``NotesAside``)."""
    with gc_paused():
        return TabularModel.read(paths[0])


NoteResult = tuple[list[dict[str, Any]], dict[str, list[str]], dict[str, int]]


class NotesAside:
    """``note_edges`` in a forked child process, on the other core, while the caller builds its code rows (~0.5 s
    each); call the result for (edges, unresolved, counts). The child shares the model by fork (nothing is
    copied to it) and sends back only its result. Where fork is unavailable, or the child fails, the notes are
    resolved here when asked for: the same result, later. Leaving the block stops a child nobody waited for
    (the load failed meanwhile)."""

    def __init__(self, model: TabularModel) -> None:
        self.model = model
        self.child: Any = None
        try:
            context = multiprocessing.get_context("fork")
            self.receive, send = context.Pipe(duplex=False)
            self.child = context.Process(target=_resolve_in_child, args=(model, send), name="icd10cm notes",
                                         daemon=True)
            self.child.start()
        except (ValueError, OSError):
            self.child = None
            return
        send.close()

    def __enter__(self) -> NotesAside:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.child is not None:
            self.child.terminate()
            self.child.join()
            self.receive.close()
            self.child = None

    def __call__(self) -> NoteResult:
        outcome = None
        if self.child is not None:
            try:
                outcome = self.receive.recv()
            except EOFError:  # the child died before sending
                outcome = None
            finally:
                self.receive.close()
                self.child.join()
                self.child = None
        if outcome is not None:
            return outcome  # type: ignore[no-any-return]
        counts: dict[str, int] = {}
        with gc_paused():
            edges, unresolved = note_edges(self.model, counts)
        return edges, dict(unresolved), counts


def _resolve_in_child(model: TabularModel, send: Any) -> None:
    # Ctrl-C reaches the whole process group: the parent handles it and stops this child (no second traceback).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The collector stays off: the inherited driver's objects must not be finalised here (their sockets are the
    # parent's); the child exits without running finalisers.
    gc.disable()
    try:
        counts: dict[str, int] = {}
        edges, unresolved = note_edges(model, counts)
        send.send((edges, dict(unresolved), counts))
    except Exception:  # the parent resolves them itself
        send.send(None)
    finally:
        send.close()
