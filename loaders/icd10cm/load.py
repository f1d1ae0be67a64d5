"""Load an ICD-10-CM release: the tabular XML (full hierarchy and notes) or a code list.

From the tabular XML: chapters → sections → categories → subcategories → codes (with the
generated 7th-character codes) as IS_A edges, the billable flag, inclusion terms for search,
and the instructional notes as EXCLUDES1/EXCLUDES2/CODE_FIRST/USE_ADDITIONAL/CODE_ALSO edges
to resolved targets (a note naming no code of the release stays as text on the membership).
An order or codes file given beside the XML is checked against the generated billable set.
From a code list alone (the FY2024/FY2025 files the bundled packages ship): codes and titles
with the billable flag, no hierarchy — the release is marked ``coverage: billable-only``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loaders.errors import LoadError
from loaders.icd10cm.codes import code_sort_key, in_range, strip_dot
from loaders.icd10cm.note_conditions import Qualifier, note_condition, parse_qualifier, qualifier_spans
from loaders.icd10cm.note_refs import NoteReference, extract_note_references
from loaders.icd10cm.tabular import Icd10cmChapter, Icd10cmCode, Icd10cmNote, Icd10cmSection, parse_icd10cm_tabular
from loaders.machinery.code_release import (
    code_row,
    refresh_code_titles,
    set_release_coverage,
    write_codes,
    write_edges,
    write_hierarchy,
)
from loaders.machinery.parse_ahead import PARSED_AHEAD
from loaders.machinery.pipeline import LoadContext
from loaders.machinery.release_diff import previous_visible_release
from loaders.registry import register
from ontology.code_systems import system
from ontology.vocabulary import L, R

ICD10CM = system("icd10cm")
EDGE_NOTES = {
    "excludes1": R.EXCLUDES1,
    "excludes2": R.EXCLUDES2,
    "code_first": R.CODE_FIRST,
    "use_additional": R.USE_ADDITIONAL,
    "code_also": R.CODE_ALSO,
}


REPLACED_BY_EXPANSION = f"""
MATCH (prev:{L.Release} {{id: $previous}}), (new:{L.Release} {{id: $release}})
MATCH (d:{L.Code})-[dm:{R.IN_RELEASE}]->(prev)
WHERE d.system = 'icd10cm' AND dm.billable AND NOT EXISTS {{ (d)-[:{R.IN_RELEASE}]->(new) }}
WITH new, collect(d) AS deleted
UNWIND deleted AS d
// The subcodes by a prefix seek on the code index, not a walk over the whole new release per deleted code.
MATCH (n:{L.Code}) USING INDEX n:{L.Code}(code)
WHERE n.code STARTS WITH d.code AND n.system = 'icd10cm' AND n <> d
MATCH (n)-[m:{R.IN_RELEASE}]->(new) WHERE m.billable
MERGE (d)-[r:{R.REPLACED_BY} {{release: $release}}]->(n)
  ON CREATE SET r.load_run = $run, r.from_release = $previous, r.basis = 'expanded into subcodes'
"""


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

    def __init__(self, codes: set[str], section_ids: set[str], finals: set[str] | None = None) -> None:
        self.codes = codes
        self.section_ids = section_ids
        self.finals = finals or set()  # codes subdivided no further (but for a 7th character)
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

    def targets(self, ref: NoteReference) -> list[tuple[str, str]]:
        """(target code, scope) pairs; scope 'code' or 'descendants' (any code under the target)."""
        if ref.kind == "range":
            assert ref.code_to is not None
            section = f"{ref.code}-{ref.code_to}"
            if section in self.section_ids:
                return [(section, "descendants")]
            return [(c, "descendants") for c in self.in_range(ref.code, ref.code_to)]
        if ref.code in self.codes:
            return [(ref.code, "descendants" if ref.kind == "under" else "code")]
        return []

    def at_or_under(self, ref: NoteReference) -> list[str]:
        """Every code the reference covers, with all codes under them, in tabular order."""
        first = strip_dot(ref.code)
        last = strip_dot(ref.code_to) if ref.kind == "range" and ref.code_to else first
        found = self._under.get((first, last))
        if found is None:
            lo, hi = code_sort_key(first), code_sort_key(last)
            found = []
            for i in range(bisect_left(self.preorder_keys, lo), len(self.preorder)):
                key = self.preorder_keys[i]
                if key[: len(hi)] > hi:
                    break
                if len(key) >= len(lo) and len(key) >= len(hi) and key[: len(lo)] >= lo:
                    found.append(self.preorder[i])
            self._under[(first, last)] = found
        return found

    def qualified_targets(self, ref: NoteReference, qualifier: Qualifier) -> list[tuple[str, str]]:
        """The highest codes under ``ref`` that the qualifier selects ("E08-E13 with .42" → E08.42, E09.42, …),
        each with everything under it."""
        chosen: list[str] = []
        for code in self.at_or_under(ref):
            if chosen and strip_dot(code).startswith(strip_dot(chosen[-1])):
                continue  # under a code already chosen
            if qualifier.selects(code, code in self.finals):
                chosen.append(code)
        return [(c, "descendants") for c in chosen]

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
    resolver = NoteResolver({c.code for c in model.codes} | sections, sections, _finals(model))
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
    model = TabularModel.read(paths[0])
    counts: dict[str, int] = {}
    edges, unresolved = note_edges(model, counts)
    return ParsedTabular(model, edges, unresolved, counts)


class Icd10cmLoader:
    name = "icd10cm"
    system_name = "ICD-10-CM"

    def prepare(self, paths: list[Path]) -> None:
        """Parse the tabular XML ahead of the load (``parse_ahead``): ~3 s of parsing and note resolution."""
        xmls = [p for p in paths if p.suffix.lower() == ".xml"]
        if len(xmls) == 1:
            PARSED_AHEAD.submit("icd10cm tabular", parse_tabular, xmls)

    def write(self, ctx: LoadContext) -> None:
        xmls = [p for p in ctx.sources if p.suffix.lower() == ".xml"]
        lists = [p for p in ctx.sources if p.suffix.lower() != ".xml"]
        if len(xmls) > 1:
            raise LoadError(f"one tabular XML per release, got {[p.name for p in xmls]}")
        if xmls:
            self._write_tabular(ctx, xmls[0], lists)
        elif lists:
            self._write_code_lists(ctx, lists)
        else:
            raise LoadError("no ICD-10-CM file given")
        self._write_expansions(ctx)

    def _write_expansions(self, ctx: LoadContext) -> None:
        """REPLACED_BY edges for codes the previous release had and this one expands into subcodes
        (C83.39 → C83.390 … C83.398), the most common reason a code is deleted. Written under this
        release, so they appear and disappear with it."""
        previous = previous_visible_release(ctx.writer.driver, ctx.writer.database, ICD10CM.id, ctx.release.id)
        if previous is None:
            return
        counters = ctx.writer.run("replaced_by", REPLACED_BY_EXPANSION, {"previous": previous})
        ctx.counts["replaced_by_expansion"] = counters.relationships_created

    def after_promote(self, ctx: LoadContext) -> None:
        refresh_code_titles(ctx, ICD10CM)

    # -- the tabular XML ----------------------------------------------------------------------
    def _write_tabular(self, ctx: LoadContext, xml: Path, lists: list[Path]) -> None:
        parsed = PARSED_AHEAD.take("icd10cm tabular", parse_tabular, [xml])
        model, edges, unresolved = parsed.model, parsed.edges, parsed.unresolved
        counts = ctx.counts
        counts.update(parsed.counts)
        includes: dict[str, list[str]] = defaultdict(list)
        # A block's or chapter's inclusion terms ("Infections acquired in utero …" on P35-P39) belong to it as a
        # code's do (the parser puts a code's on the code itself): kept and made searchable.
        block_terms: dict[str, list[str]] = defaultdict(list)
        for note in model.notes:
            if note.kind in ("includes", "notes", "seven_chr_note"):
                includes[model.source_code(note)].append(note.text)
            elif note.kind == "inclusion" and note.source_kind != "code":
                block_terms[model.source_code(note)].append(note.text)

        def membership_extras(code: str) -> dict[str, Any]:
            extras = {"unresolved_notes": unresolved.get(code) or None, "includes": includes.get(code) or None}
            if code in block_terms:
                extras |= {"inclusion_terms": block_terms[code], "search_terms": " | ".join(block_terms[code])}
            return extras

        chapter_rows = (
            code_row(
                ICD10CM,
                chapter_code(c.number),
                c.title,
                billable=False,
                kind="chapter",
                first=c.first,
                last=c.last,
                **membership_extras(chapter_code(c.number)),
            )
            for c in model.chapters
        )
        counts["chapters"] = write_codes(ctx, ICD10CM, chapter_rows, label=L.ICD10CMChapter, name="chapters")
        section_rows = (
            code_row(
                ICD10CM,
                section_code(s.id),
                s.title,
                billable=False,
                kind="section",
                chapter=chapter_code(s.chapter),
                **membership_extras(section_code(s.id)),
            )
            for s in model.sections
        )
        counts["sections"] = write_codes(ctx, ICD10CM, section_rows, label=L.ICD10CMSection, name="sections")
        code_rows = (
            code_row(
                ICD10CM,
                c.code,
                c.title,
                billable=c.billable,
                kind=c.kind,
                search_terms=" | ".join(c.inclusion_terms),
                inclusion_terms=list(c.inclusion_terms) or None,
                generated_7th=c.generated_7th or None,
                chapter=chapter_code(c.chapter),
                section=section_code(c.section),
                **membership_extras(c.code),
            )
            for c in model.codes
        )
        counts["codes"] = write_codes(ctx, ICD10CM, code_rows)
        counts["billable"] = sum(1 for c in model.codes if c.billable)
        counts["headers"] = counts["codes"] - counts["billable"]
        counts["generated_7th_character"] = sum(1 for c in model.codes if c.generated_7th)

        pairs: list[tuple[str, str]] = [(section_code(s.id), chapter_code(s.chapter)) for s in model.sections]
        pairs += [(c.code, section_code(c.parent) if c.depth == 1 else c.parent) for c in model.codes]
        counts["is_a"] = write_hierarchy(ctx, ICD10CM, pairs)
        by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in edges:
            by_type[row["type"]].append(row)
        for rel_type, rows in sorted(by_type.items()):
            counts[f"edges_{rel_type}"] = write_edges(ctx, rel_type, rows, identity=("note",))
        set_release_coverage(ctx, "full")
        if lists:
            self._check_against_lists(ctx, model, lists)

    def _check_against_lists(self, ctx: LoadContext, model: TabularModel, lists: list[Path]) -> None:
        from loaders.icd10cm.code_lists import read_code_list

        billable_xml = {c.code for c in model.codes if c.billable}
        listed = {c.code for p in lists for c in read_code_list(p) if c.billable is not False}
        ctx.counts["order_file_billable"] = len(listed)
        ctx.counts["order_file_missing_from_xml"] = len(listed - billable_xml)
        ctx.counts["xml_billable_missing_from_order_file"] = len(billable_xml - listed)

    # -- code lists -----------------------------------------------------------------------------
    def _write_code_lists(self, ctx: LoadContext, lists: list[Path]) -> None:
        from loaders.icd10cm.code_lists import read_code_list

        def rows() -> Iterator[dict[str, Any]]:
            for path in lists:
                for c in read_code_list(path):
                    yield code_row(
                        ICD10CM,
                        c.code,
                        c.title,
                        billable=c.billable if c.billable is not None else True,
                        kind="code" if c.billable is not False else "header",
                    )

        ctx.counts["codes"] = write_codes(ctx, ICD10CM, rows())
        set_release_coverage(ctx, "billable-only")


register("icd10cm")(Icd10cmLoader)
