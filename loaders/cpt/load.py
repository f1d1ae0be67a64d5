"""Load a CPT release from a licensee's tab-delimited file (descriptors are AMA content, never shipped).

Each code becomes a billable ``CPTCode`` with its category (I, II, III or PLA) and every descriptor the
layout names (``long_descriptor``, ``short_descriptor``, …) on its membership; the title is the long
descriptor, or the first one when the layout has no ``long`` column. CPT has no hierarchy in the file.
Set ``layout`` on the loader for files other than the historic ``LONGULT.TXT`` shape.
"""

from __future__ import annotations

from typing import Any

from loaders.cpt.licensee_file import CptCode, CptFileLayout, read_cpt_file
from loaders.errors import LoadError
from loaders.machinery.code_release import code_row, refresh_code_titles, set_release_coverage, write_codes
from loaders.machinery.pipeline import LoadContext
from loaders.registry import register
from ontology.code_systems import system

CPT = system("cpt")


def cpt_code_row(rec: CptCode) -> dict[str, Any]:
    title = rec.descriptor("long") or rec.descriptors[0][1]
    others = " | ".join(dict.fromkeys(text for _, text in rec.descriptors if text != title))
    return code_row(CPT, rec.code, title, billable=True, kind="code", category=rec.category, search_terms=others,
                    **{f"{kind}_descriptor": text for kind, text in rec.descriptors})


class CptLoader:
    name = "cpt"
    system_name = "CPT"

    def __init__(self, layout: CptFileLayout | None = None) -> None:
        self.layout = layout or CptFileLayout()

    def write(self, ctx: LoadContext) -> None:
        if len(ctx.sources) != 1 or ctx.sources[0].is_dir():
            raise LoadError(f"CPT takes one licensee file (e.g. LONGULT.TXT); got {[p.name for p in ctx.sources]}")
        records = list(read_cpt_file(ctx.sources[0], self.layout))  # the whole file is checked before writing
        counts = ctx.counts
        counts["codes"] = write_codes(ctx, CPT, (cpt_code_row(r) for r in records))
        counts["billable"] = counts["codes"]
        for category in ("I", "II", "III", "PLA"):
            counts[f"category_{category}"] = sum(r.category == category for r in records)
        set_release_coverage(ctx, "full")

    def after_promote(self, ctx: LoadContext) -> None:
        refresh_code_titles(ctx, CPT)


register("cpt")(CptLoader)
