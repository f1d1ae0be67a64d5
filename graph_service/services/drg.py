"""MS-DRG grouping explained from the graph: the DRG, its weight and payment, what-if and opportunities.

The ``msdrg`` engine (a port of the CMS grouper, validated claim by claim against it; ``drg_grouper``)
assigns the DRG; the graph supplies everything said about it (``drg_facts``) — the relative weight and
titles (IPPS Table 5), each secondary diagnosis's CC/MCC designation and the Table 6K exclusions that cancel
it (``EXCLUDED_WITH`` a PDX collection the principal diagnosis is ``IN_COLLECTION`` of, Part 2 alive-only,
Part 3 DRG-specific) — through the visible release of the discharge date's fiscal year. Dates msdrg does
not cover, or whose fiscal year has no visible MS-DRG release, are refused (422) with the loaded releases
named.

Expected payment = weight × the payer's base rate (settings ``drg_base_rates``; ``default`` for payers
not listed). No wage index, IME, DSH, outliers, transfer per-diem or new-technology add-on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from codegraph.settings import Settings
from graph_service.errors import Unprocessable
from graph_service.graph import Graph
from graph_service.models.coding import DrgOutcome
from graph_service.models.drg import (
    MAX_SECONDARY,
    AlternativeOut,
    ClaimChange,
    DrgClaimIn,
    DrgGroupOut,
    DrgOutcomeBrief,
    NoEffect,
    OpportunitiesIn,
    OpportunitiesOut,
    Opportunity,
    WhatIfIn,
    WhatIfOut,
    diagnosis_code,
)
from graph_service.services.drg_explain import SEVERITY_RANK, explain, explain_secondary, payment
from graph_service.services.drg_facts import Facts, read_facts
from graph_service.services.drg_grouper import (  # re-exported: the DRG service's public names
    SYSTEM,
    Claim,
    Grouped,
    GrouperChoice,
    dotted,
    group_claims,
    grouper_for,
    grouper_sex_code,
)
from graph_service.services.releases import list_releases
from ontology.discharge_status import discharge_status as ub04_status

__all__ = ["Claim", "apply_change", "group_claim", "group_claims", "group_for_assignment", "grouper_for",
           "grouper_sex_code", "opportunities", "what_if"]

def base_rate(settings: Settings, payer: str | None) -> tuple[float, str]:
    rates = {k.lower(): v for k, v in settings.drg_base_rates.items()}
    if payer is not None and payer.lower() in rates:
        return rates[payer.lower()], f"payer {payer}"
    default = rates.get("default", 0.0)
    return default, "default" if payer is None else f"default (no rate configured for payer {payer!r})"



# ---- requests ------------------------------------------------------------------------------------
def choose_grouper(graph: Graph, discharge_date: date | None) -> GrouperChoice:
    if discharge_date is not None:
        return grouper_for(discharge_date)
    releases = list_releases(graph, SYSTEM)
    if not releases:
        raise Unprocessable("no MS-DRG tables are loaded; load them with `codegraph load msdrg … --release FY2026`")
    newest = max(releases, key=lambda r: r.effective_from or date.min)
    return grouper_for(None, int(newest.version[2:]))


def _reject_unknown(results: Sequence[Grouped], locate: dict[str, list[Any]], version: int) -> None:
    unknown = sorted(set().union(*(r.unknown_diagnoses() for r in results)))
    if unknown:
        errors = [{"loc": locate.get(code, ["body"]), "msg": f"{dotted(code)} is not a valid ICD-10-CM diagnosis "
                   f"for grouper v{version} (unknown, or a non-billable category)", "type": "unknown_code"}
                  for code in unknown]
        raise Unprocessable("; ".join(e["msg"] for e in errors), extra={"errors": errors})


def group_claim(graph: Graph, settings: Settings, body: DrgClaimIn) -> DrgGroupOut:
    choice = choose_grouper(graph, body.discharge_date)
    claim = Claim.of(body)
    [grouped] = group_claims([claim], choice)
    _reject_unknown([grouped], {d.code: ["body", "secondary_dx", i, "code"] for i, d in enumerate(body.secondary_dx)},
                    choice.version)
    facts = read_facts(graph, choice, claim.pdx, [c for c, _ in claim.sdx], [grouped.drg], _mdcs([grouped]))
    return explain(grouped, facts, choice, base_rate(settings, body.payer), body.discharge_date)


def _mdcs(results: Iterable[Grouped]) -> set[str]:
    out = set()
    for r in results:
        pdx_mdc = (r.raw.get("pdx_output") or {}).get("mdc")
        out |= {m for m in (r.mdc, f"{pdx_mdc:02d}" if pdx_mdc else None) if m}
    return out


def _brief(grouped: Grouped, facts: Facts, rate: float) -> DrgOutcomeBrief:
    drg = facts.drgs.get(grouped.drg, {})
    return DrgOutcomeBrief(drg=grouped.drg, title=drg.get("title"), severity=grouped.severity,
                           weight=drg.get("weight"), expected_payment=payment(drg.get("weight"), rate),
                           return_code=grouped.return_code)


def _delta(after: float | None, before: float | None, digits: int) -> float | None:
    return round(after - before, digits) if after is not None and before is not None else None


@dataclass
class _Changed:
    claim: Claim
    changes: list[str] = field(default_factory=list)


def apply_change(base: Claim, change: ClaimChange, where: list[Any]) -> _Changed:
    """The base claim with one alternative's changes; a change that does not fit the claim is a 422 at its place."""
    sdx = list(base.sdx)
    procs = list(base.procedures)
    out = _Changed(base)

    def fail(path: list[Any], msg: str) -> Unprocessable:
        error = {"loc": ["body", *where, *path], "msg": msg, "type": "value_error"}
        return Unprocessable(msg, extra={"errors": [error]})

    for i, d in enumerate(change.add_secondary):
        if any(c == d.code for c, _ in sdx):
            raise fail(["add_secondary", i, "code"], f"{dotted(d.code)} is already a secondary diagnosis")
        sdx.append((d.code, d.poa))
        out.changes.append(f"add {dotted(d.code)}" + (f" (POA {d.poa})" if d.poa else ""))
    for i, code in enumerate(change.remove_secondary):
        at = next((j for j, (c, _) in enumerate(sdx) if c == code), None)
        if at is None:
            raise fail(["remove_secondary", i], f"{dotted(code)} is not a secondary diagnosis of the claim")
        sdx.pop(at)
        out.changes.append(f"remove {dotted(code)}")
    for code in change.add_procedures:
        procs.append(code)
        out.changes.append(f"add procedure {code}")
    for i, code in enumerate(change.remove_procedures):
        if code not in procs:
            raise fail(["remove_procedures", i], f"{code} is not a procedure of the claim")
        procs.remove(code)
        out.changes.append(f"remove procedure {code}")
    for i, d in enumerate(change.set_poa):
        at = next((j for j, (c, _) in enumerate(sdx) if c == d.code), None)
        if at is None:
            raise fail(["set_poa", i, "code"], f"{dotted(d.code)} is not a secondary diagnosis of the claim")
        out.changes.append(f"POA of {dotted(d.code)}: {sdx[at][1] or 'none'} → {d.poa or 'none'}")
        sdx[at] = (d.code, d.poa)
    if len(sdx) > MAX_SECONDARY:
        raise fail([], f"the alternative has {len(sdx)} secondary diagnoses; a claim carries at most {MAX_SECONDARY}")
    status = base.discharge_status
    if change.discharge_status is not None:
        out.changes.append(f"discharge status {status} → {change.discharge_status}")
        status = change.discharge_status
    out.claim = replace(base, sdx=tuple(sdx), procedures=tuple(procs), discharge_status=status)
    return out


def what_if(graph: Graph, settings: Settings, body: WhatIfIn) -> WhatIfOut:
    """Group the base claim and each alternative; deltas are against the base."""
    choice = choose_grouper(graph, body.claim.discharge_date)
    base = Claim.of(body.claim)
    changed = [apply_change(base, alt, ["alternatives", i]) for i, alt in enumerate(body.alternatives)]
    results = group_claims([base, *(c.claim for c in changed)], choice)
    locate = {d.code: ["body", "claim", "secondary_dx", i, "code"] for i, d in enumerate(body.claim.secondary_dx)}
    for i, alt in enumerate(body.alternatives):
        for j, d in enumerate(alt.add_secondary):
            locate.setdefault(d.code, ["body", "alternatives", i, "add_secondary", j, "code"])
    _reject_unknown(results, locate, choice.version)
    facts = read_facts(graph, choice, base.pdx, [], [r.drg for r in results], [])
    rate, source = base_rate(settings, body.claim.payer)
    head = _brief(results[0], facts, rate)
    alternatives = []
    for alt, change, grouped in zip(body.alternatives, changed, results[1:], strict=True):
        brief = _brief(grouped, facts, rate)
        alternatives.append(AlternativeOut(
            label=alt.label, changes=change.changes, outcome=brief, drg_changed=brief.drg != head.drg,
            delta_weight=_delta(brief.weight, head.weight, 4),
            delta_payment=_delta(brief.expected_payment, head.expected_payment, 2),
        ))
    return WhatIfOut(release=facts.release, grouper_version=str(choice.version), msdrg_version=choice.engine,
                     base_rate=rate, base_rate_source=source, base=head, alternatives=alternatives)


def opportunities(graph: Graph, settings: Settings, body: OpportunitiesIn) -> OpportunitiesOut:
    """Each documented-but-uncoded candidate added alone: those that raise severity or the DRG, by payment gain."""
    choice = choose_grouper(graph, body.claim.discharge_date)
    base = Claim.of(body.claim)
    coded = {base.pdx, *(c for c, _ in base.sdx)}
    tried = [c for c in body.candidates if c.code not in coded]
    trial_claims = [replace(base, sdx=(*base.sdx, (c.code, c.poa))) for c in tried]
    results = group_claims([base, *trial_claims], choice)
    locate = {d.code: ["body", "claim", "secondary_dx", i, "code"] for i, d in enumerate(body.claim.secondary_dx)}
    locate.update({c.code: ["body", "candidates", i, "code"] for i, c in enumerate(body.candidates)})
    _reject_unknown(results, locate, choice.version)
    facts = read_facts(graph, choice, base.pdx, [c.code for c in tried], [r.drg for r in results], [])
    rate, source = base_rate(settings, body.claim.payer)
    head = _brief(results[0], facts, rate)
    found: list[Opportunity] = []
    no_effect = [NoEffect(code=dotted(c.code), reason="already coded on the claim")
                 for c in body.candidates if c.code in coded]
    for cand, grouped in zip(tried, results[1:], strict=True):
        brief = _brief(grouped, facts, rate)
        des = facts.designations.get(dotted(cand.code))
        explained = explain_secondary(cand.code, cand.poa, {}, facts, grouped, choice.version)
        raised = SEVERITY_RANK.get(grouped.severity, 0) > SEVERITY_RANK.get(head.severity, 0)
        if brief.drg != head.drg or raised:
            gain = _delta(brief.expected_payment, head.expected_payment, 2)
            reason = explained.reason + (f": DRG {head.drg} → {brief.drg}" if brief.drg != head.drg
                                         else f": severity {head.severity} → {grouped.severity}, DRG unchanged")
            found.append(Opportunity(
                code=dotted(cand.code), poa=cand.poa, designation=des["level"] if des else None, outcome=brief,
                severity_before=head.severity, severity_after=grouped.severity,
                delta_weight=_delta(brief.weight, head.weight, 4), delta_payment=gain, reason=reason,
            ))
        elif des is None or not explained.counts:
            no_effect.append(NoEffect(code=dotted(cand.code), reason=explained.reason))
        else:
            no_effect.append(NoEffect(code=dotted(cand.code), reason=f"{explained.reason}, but severity is already "
                                      f"{head.severity} and DRG {head.drg} does not change"))
    found.sort(key=lambda o: (-(o.delta_payment or 0.0), o.code))
    return OpportunitiesOut(release=facts.release, grouper_version=str(choice.version), base_rate=rate,
                            base_rate_source=source, base=head, opportunities=found, no_effect=no_effect)


# ---- coding assignments ------------------------------------------------------------------------------
def group_for_assignment(
    graph: Graph, settings: Settings, *, principal: str, secondary: list[tuple[str, str | None]],
    procedures: list[str], age: int | None, sex: Any, discharge_status: Any, discharge_date: date,
    payer: str | None,
) -> tuple[DrgOutcome | None, dict[str, Any]]:
    """Group a recorded coding assignment; problems become findings (the assignment is still recorded)."""
    status = ub04_status(discharge_status)
    notes = [] if status is not None else [f"discharge status {discharge_status!r} unknown: grouped as 01 (home)"]
    try:
        claim = Claim(diagnosis_code(principal), None,
                      tuple((diagnosis_code(c), (poa or None) and str(poa).upper()) for c, poa in secondary),
                      tuple(p.strip().upper() for p in procedures), age, grouper_sex_code(sex), status or 1)
        choice = grouper_for(discharge_date)
        [grouped] = group_claims([claim], choice)
        facts = read_facts(graph, choice, claim.pdx, [c for c, _ in claim.sdx], [grouped.drg], _mdcs([grouped]))
    except (Unprocessable, ValueError) as exc:
        return None, {"drg": f"not grouped: {getattr(exc, 'detail', exc)}"}
    out = explain(grouped, facts, choice, base_rate(settings, payer), discharge_date)
    outcome = DrgOutcome(drg=out.drg, mdc=out.mdc, severity=out.severity, weight=out.weight,
                         expected_payment=out.expected_payment, grouper_version=out.grouper_version,
                         return_code=out.return_code)
    return outcome, {"drg": {"release": out.release, "msdrg_version": out.msdrg_version, "steps": out.explanation.steps,
                             "unknown_diagnoses": sorted(dotted(c) for c in grouped.unknown_diagnoses()),
                             "notes": notes}}
