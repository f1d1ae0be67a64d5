"""Load an HCPCS Level II release from the CMS alpha-numeric (ANWEB) file: codes and modifiers.

Codes become ``HCPCSCode`` nodes, modifiers ``Modifier`` nodes of the shared ``modifier`` system (CPT and
HCPCS modifiers are one list); both hang off the HCPCS release. HCPCS has no hierarchy. A code is billable
in the release unless its termination date falls before the release's first day (a quarter "2024Q1"
starts on 1 January 2024; a version without a known first day counts every terminated code as ended).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from loaders.errors import LoadError
from loaders.hcpcs.anweb import HcpcsCode, HcpcsModifier, read_hcpcs_anweb
from loaders.machinery.code_release import code_row, refresh_code_titles, set_release_coverage, write_codes
from loaders.machinery.pipeline import LoadContext
from loaders.machinery.runs import ReleaseSpec
from loaders.registry import register
from ontology.code_systems import system

HCPCS = system("hcpcs")
MODIFIER = system("modifier")


def release_start(release: ReleaseSpec) -> date | None:
    """The release's first day: its effective date, else the first day of a ``YYYYQn`` quarter."""
    if release.effective_from is not None:
        return release.effective_from
    quarter = re.fullmatch(r"(\d{4})Q([1-4])", release.version, flags=re.IGNORECASE)
    return date(int(quarter.group(1)), 3 * int(quarter.group(2)) - 2, 1) if quarter else None


def in_force(terminated: date | None, start: date | None) -> bool:
    return terminated is None or (start is not None and terminated >= start)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _dates(rec: HcpcsCode | HcpcsModifier) -> dict[str, Any]:
    return {"added_date": _iso(rec.added_date), "action_effective_date": _iso(rec.action_effective_date),
            "termination_date": _iso(rec.termination_date), "action_code": rec.action_code,
            "short_description": rec.short_description or None}


def hcpcs_code_row(rec: HcpcsCode, start: date | None) -> dict[str, Any]:
    return code_row(
        HCPCS, rec.code, rec.long_description, billable=in_force(rec.termination_date, start), kind="code",
        search_terms=rec.short_description, pricing_indicators=list(rec.pricing_indicators) or None,
        multiple_pricing_indicator=rec.multiple_pricing_indicator, coverage_code=rec.coverage_code,
        asc_group=rec.asc_group, betos=rec.betos, type_of_service=list(rec.type_of_service) or None,
        anesthesia_base_units=rec.anesthesia_base_units, **_dates(rec),
    )


def modifier_row(rec: HcpcsModifier, start: date | None) -> dict[str, Any]:
    return code_row(MODIFIER, rec.code, rec.long_description, billable=in_force(rec.termination_date, start),
                    kind="modifier", search_terms=rec.short_description, **_dates(rec))


class HcpcsLoader:
    name = "hcpcs"
    system_name = "HCPCS Level II"

    def write(self, ctx: LoadContext) -> None:
        if len(ctx.sources) != 1 or ctx.sources[0].is_dir():
            raise LoadError(f"HCPCS takes one ANWEB file (HCPC<YYYY>_<MON>_ANWEB*.txt); got "
                            f"{[p.name for p in ctx.sources]}")
        records = list(read_hcpcs_anweb(ctx.sources[0]))  # the whole file is checked before the first write
        codes = [r for r in records if isinstance(r, HcpcsCode)]
        modifiers = [r for r in records if isinstance(r, HcpcsModifier)]
        start = release_start(ctx.release)
        counts = ctx.counts
        counts["codes"] = write_codes(ctx, HCPCS, (hcpcs_code_row(r, start) for r in codes))
        counts["modifiers"] = write_codes(ctx, MODIFIER, (modifier_row(r, start) for r in modifiers),
                                          name="modifiers")
        counts["billable"] = sum(in_force(r.termination_date, start) for r in codes)
        counts["terminated"] = sum(r.termination_date is not None for r in codes)
        set_release_coverage(ctx, "full")

    def after_promote(self, ctx: LoadContext) -> None:
        refresh_code_titles(ctx, HCPCS)
        refresh_code_titles(ctx, MODIFIER)


register("hcpcs")(HcpcsLoader)
