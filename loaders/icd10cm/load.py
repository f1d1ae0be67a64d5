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

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from loaders.errors import LoadError
from loaders.icd10cm.tabular_model import NotesAside, TabularModel, chapter_code, read_model, section_code
from loaders.machinery.code_release import (
    code_row,
    refresh_code_titles,
    set_release_coverage,
    write_codes,
    write_edges,
)
from loaders.machinery.parse_ahead import PARSED_AHEAD
from loaders.machinery.pipeline import LoadContext
from loaders.registry import register
from ontology.code_systems import system
from ontology.vocabulary import L

ICD10CM = system("icd10cm")


class Icd10cmLoader:
    name = "icd10cm"
    system_name = "ICD-10-CM"

    def prepare(self, paths: list[Path]) -> None:
        """Parse the tabular XML ahead of the load (``parse_ahead``): ~1.5 s of parsing."""
        xmls = [p for p in paths if p.suffix.lower() == ".xml"]
        if len(xmls) == 1:
            PARSED_AHEAD.submit("icd10cm tabular", read_model, xmls)

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
        # REPLACED_BY from a code this release expands into subcodes comes from the diff after staging
        # (release_diff.link_expansions), which walks the previous release's codes for it once.

    def after_promote(self, ctx: LoadContext) -> None:
        refresh_code_titles(ctx, ICD10CM)

    # -- the tabular XML ----------------------------------------------------------------------
    def _write_tabular(self, ctx: LoadContext, xml: Path, lists: list[Path]) -> None:
        model = PARSED_AHEAD.take("icd10cm tabular", read_model, [xml])
        # The notes are resolved in a second process while this one builds the code rows; each code's unresolved
        # notes are set on its row before any is written.
        with NotesAside(model) as resolved:
            rows, edges = self._tabular_rows(ctx, model, resolved)
        counts = ctx.counts
        counts["chapters"] = write_codes(ctx, ICD10CM, rows[0], label=L.ICD10CMChapter, name="chapters")
        counts["sections"] = write_codes(ctx, ICD10CM, rows[1], label=L.ICD10CMSection, name="sections")
        counts["codes"] = write_codes(ctx, ICD10CM, rows[2])
        counts["billable"] = sum(1 for c in model.codes if c.billable)
        counts["headers"] = counts["codes"] - counts["billable"]
        counts["generated_7th_character"] = sum(1 for c in model.codes if c.generated_7th)

        counts["is_a"] = len(model.sections) + len(model.codes)  # each IS_A its parent, written with it
        by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in edges:
            by_type[row["type"]].append(row)
        for rel_type, rows_of_type in sorted(by_type.items()):
            counts[f"edges_{rel_type}"] = write_edges(ctx, rel_type, rows_of_type, identity=("note",))
        set_release_coverage(ctx, "full")
        if lists:
            self._check_against_lists(ctx, model, lists)

    @staticmethod
    def _tabular_rows(ctx: LoadContext, model: TabularModel, resolved: NotesAside,
                      ) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
        """The chapter, section and code rows (with their unresolved notes) and the note edge rows."""
        counts = ctx.counts
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
            extras: dict[str, Any] = {"includes": includes.get(code) or None}
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
        section_rows = (
            code_row(
                ICD10CM,
                section_code(s.id),
                s.title,
                billable=False,
                kind="section",
                parent=chapter_code(s.chapter),
                chapter=chapter_code(s.chapter),
                **membership_extras(section_code(s.id)),
            )
            for s in model.sections
        )
        code_rows = (
            code_row(
                ICD10CM,
                c.code,
                c.title,
                billable=c.billable,
                kind=c.kind,
                parent=section_code(c.parent) if c.depth == 1 else c.parent,
                search_terms=" | ".join(c.inclusion_terms),
                inclusion_terms=list(c.inclusion_terms) or None,
                generated_7th=c.generated_7th or None,
                chapter=chapter_code(c.chapter),
                section=section_code(c.section),
                **membership_extras(c.code),
            )
            for c in model.codes
        )
        rows = [list(chapter_rows), list(section_rows), list(code_rows)]
        edges, unresolved, note_counts = resolved()
        counts.update(note_counts)
        by_code = {row["code"]: row for level in rows for row in level}
        for code, texts in unresolved.items():
            if (row := by_code.get(code)) is not None:
                row["unresolved_notes"] = texts
        return rows, edges

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
