"""Load an ICD-10-PCS release: a code list (codes file, order file or CSV) and, optionally, the tables XML.

Every code is a billable ``ICD10PCSCode`` and sits in a four-level hierarchy built from its characters:
code → 3-character table stem → 2-character body system → 1-character section (the three upper levels
are non-billable codes of kind ``table``, ``body_system`` and ``section``).

With the tables XML, each code's membership carries the meaning of its seven characters, named from the
file's axis titles (``section``, ``body_system``, ``root_operation``, ``body_part``, ``approach``, ``device``,
``qualifier`` in Medical and Surgical; ``type``, ``contrast``, … elsewhere), and the structure nodes take
their titles from the tables; the release is marked ``coverage: full``. Without it, a table stem keeps the
order file's header title when there is one, otherwise the structure titles are placeholders ("Table 02H",
"Body system 02", "Section 0", flagged ``placeholder_title`` on the membership) and the release is marked
``coverage: billable-only`` so release diffs compare codes only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loaders.errors import LoadError
from loaders.icd10pcs.code_lists import PcsListedCode, read_pcs_code_list
from loaders.icd10pcs.tables_xml import PcsTable, expand_row, pcs_tables_version, read_pcs_tables
from loaders.machinery.code_release import (
    code_row,
    refresh_code_titles,
    set_release_coverage,
    write_codes,
)
from loaders.machinery.pipeline import LoadContext
from loaders.registry import register
from ontology.code_systems import system

ICD10PCS = system("icd10pcs")
# The XML titles the third axis "Operation"; the PCS guidelines call it the root operation.
AXIS_ALIASES = {"operation": "root_operation"}
# Membership keys the shared statements and the API already use: an axis never overwrites them.
RESERVED = frozenset({"title", "billable", "kind", "search_terms", "release", "load_run", "placeholder_title"})


def axis_property(title: str) -> str:
    """"Body Part" → ``body_part``; "Operation" → ``root_operation``; a reserved name gets an ``axis_`` prefix."""
    name = re.sub(r"[^0-9a-z]+", "_", title.lower()).strip("_") or "axis"
    name = AXIS_ALIASES.get(name, name)
    return f"axis_{name}" if name in RESERVED else name


def axis_properties(titles: list[str]) -> tuple[str, ...]:
    """Property names for positions 1..n; a repeated title (Imaging has two "Qualifier" axes) gets its position."""
    names: list[str] = []
    for pos, title in enumerate(titles, start=1):
        name = axis_property(title)
        names.append(f"{name}_{pos}" if name in names else name)
    return tuple(names)


@dataclass
class PcsTablesModel:
    """The tables XML in memory: each table, and each valid code's seven labels (≈78k codes)."""

    tables: dict[str, PcsTable] = field(default_factory=dict)
    code_labels: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)  # names, labels

    @classmethod
    def read(cls, path: Path) -> PcsTablesModel:
        model = cls()
        for record in read_pcs_tables(path):
            if isinstance(record, PcsTable):
                model.tables[record.stem] = record
                continue
            table = model.tables[record.stem]
            names = axis_properties([a.title for a in table.axes] + [o.title for o in record.axes])
            for code in expand_row(table, record, path):
                model.code_labels[code.code] = (names, tuple(v.label for v in code.values))
        return model

    def code_properties(self, code: str) -> dict[str, str]:
        names, labels = self.code_labels.get(code, ((), ()))
        return dict(zip(names, labels, strict=True))

    def table_properties(self, stem: str) -> dict[str, Any]:
        table = self.tables.get(stem)
        if table is None:
            return {}
        names = axis_properties([a.title for a in table.axes])
        props: dict[str, Any] = dict(zip(names, (a.label for a in table.axes), strict=True))
        props.update({f"{name}_definition": a.definition for name, a in zip(names, table.axes, strict=True)
                      if a.definition})
        return props

    def label(self, prefix: str) -> str | None:
        """The label of a section (1 character) or body system (2 characters) from any table under it."""
        table = next((t for stem, t in self.tables.items() if stem.startswith(prefix)), None)
        return table.axes[len(prefix) - 1].label if table else None


@dataclass
class PcsCodeList:
    """The listed codes (billable) and, from an order file, the table stem headers, by code."""

    codes: dict[str, PcsListedCode] = field(default_factory=dict)
    headers: dict[str, PcsListedCode] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> PcsCodeList:
        listed = cls()
        for rec in read_pcs_code_list(path):
            (listed.codes if rec.billable else listed.headers).setdefault(rec.code, rec)
        return listed

    def stems(self) -> list[str]:
        """Every table stem: the order file's headers and the first three characters of every code."""
        return sorted({code[:3] for code in self.codes} | self.headers.keys())


def check_tables_version(xml: Path, version: str) -> None:
    """A tables XML of another fiscal year than the release is refused before anything is written."""
    found = pcs_tables_version(xml)
    wanted = re.fullmatch(r"FY(\d{4})", version, flags=re.IGNORECASE)
    if found and wanted and re.fullmatch(r"\d{4}", found) and found != wanted.group(1):
        raise LoadError(f"{xml}: the tables XML is version {found}, the release is {version}")


class Icd10pcsLoader:
    name = "icd10pcs"
    system_name = "ICD-10-PCS"

    def write(self, ctx: LoadContext) -> None:
        xmls = [p for p in ctx.sources if p.suffix.lower() == ".xml"]
        lists = [p for p in ctx.sources if p.suffix.lower() != ".xml"]
        if len(xmls) > 1 or len(lists) != 1 or any(p.is_dir() for p in ctx.sources):
            raise LoadError(
                "ICD-10-PCS takes one code list (codes file, order file or code,title CSV) and at most one tables "
                f"XML; got lists {[p.name for p in lists]} and XML {[p.name for p in xmls]}"
                + (" (the tables XML has no code titles: give the codes file beside it)" if not lists else "")
            )
        if xmls:
            check_tables_version(xmls[0], ctx.release.version)
        listed = PcsCodeList.read(lists[0])  # everything is read and checked before the first write
        tables = PcsTablesModel.read(xmls[0]) if xmls else None
        self._write_structure(ctx, listed, tables)
        self._write_codes(ctx, listed, tables)
        # code → table stem → body system → section, each written with the code it IS_A
        ctx.counts["hierarchy_edges"] = sum(ctx.counts[k] for k in ("body_systems", "tables", "codes"))
        set_release_coverage(ctx, "full" if tables else "billable-only")

    def after_promote(self, ctx: LoadContext) -> None:
        refresh_code_titles(ctx, ICD10PCS)

    def _write_structure(self, ctx: LoadContext, listed: PcsCodeList, tables: PcsTablesModel | None) -> None:
        stems = listed.stems()
        placeholders = 0

        def structure_row(code: str, kind: str, title: str | None, placeholder: str, **props: Any) -> dict[str, Any]:
            nonlocal placeholders
            placeholders += title is None
            return code_row(ICD10PCS, code, title or placeholder, billable=False, kind=kind,
                            placeholder_title=True if title is None else None, **props)

        def label(prefix: str) -> str | None:
            return tables.label(prefix) if tables else None

        def stem_title(stem: str) -> str | None:
            if stem in listed.headers:
                return listed.headers[stem].title
            table = tables.tables.get(stem) if tables else None
            return ", ".join(a.label for a in table.axes) if table else None

        def stem_short_title(stem: str) -> str:
            header = listed.headers.get(stem)
            return (header.short_title or "") if header else ""

        counts = ctx.counts
        counts["sections"] = write_codes(ctx, ICD10PCS, (
            structure_row(s, "section", label(s), f"Section {s}")
            for s in sorted({stem[:1] for stem in stems})
        ), name="sections")
        counts["body_systems"] = write_codes(ctx, ICD10PCS, (
            structure_row(b, "body_system", label(b), f"Body system {b}", parent=b[:1], section=label(b[:1]))
            for b in sorted({stem[:2] for stem in stems})
        ), name="body systems")
        counts["tables"] = write_codes(ctx, ICD10PCS, (
            structure_row(stem, "table", stem_title(stem), f"Table {stem}", parent=stem[:2],
                          search_terms=stem_short_title(stem),
                          **(tables.table_properties(stem) if tables else {}))
            for stem in stems
        ), name="tables")
        counts["placeholder_titles"] = placeholders

    def _write_codes(self, ctx: LoadContext, listed: PcsCodeList, tables: PcsTablesModel | None) -> None:
        def rows() -> Iterator[dict[str, Any]]:
            for c in listed.codes.values():
                yield code_row(ICD10PCS, c.code, c.title, billable=True, kind="code", parent=c.code[:3],
                               search_terms=c.short_title or "", **(tables.code_properties(c.code) if tables else {}))

        counts = ctx.counts
        counts["codes"] = write_codes(ctx, ICD10PCS, rows())
        counts["billable"] = len(listed.codes)
        if tables is not None:
            in_tables = tables.code_labels.keys()
            counts["codes_with_axes"] = sum(1 for code in listed.codes if code in in_tables)
            counts["list_codes_missing_from_tables"] = len(listed.codes.keys() - in_tables)
            counts["table_codes_missing_from_list"] = len(in_tables - listed.codes.keys())


register("icd10pcs")(Icd10pcsLoader)
