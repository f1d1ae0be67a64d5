"""Rule families on the CPT/HCPCS lines: NCCI PTP with the modifier rules, MUE, the modifiers themselves (and the
ones the evidence's procedure maps call for), and payer coverage — from the claim-edit and coverage services."""

from __future__ import annotations

from graph_service.errors import ServiceError
from graph_service.graph import Graph
from graph_service.models.claim_edits import ClaimEditsIn, ClaimEditsOut, PtpConflict
from graph_service.models.coverage import CoverageIn
from graph_service.models.evaluation import RuleRef
from graph_service.services.claim_edits import check_claim
from graph_service.services.coverage import check_coverage
from graph_service.services.evaluation.case import Case
from graph_service.services.evaluation.findings import Findings, edge_ref
from graph_service.services.evaluation.procedure_maps import MappedProcedure
from loaders.ncci.load import mue_key
from ontology.vocabulary import L

LATERAL = ("LT", "RT")


def claim_edits(graph: Graph, case: Case) -> ClaimEditsOut | None:
    if not case.lines:
        return None
    return check_claim(graph, ClaimEditsIn(lines=[
        {"line_id": ln.line_id, "code": ln.code, "modifiers": ln.modifiers, "units": ln.units,
         "date_of_service": ln.date_of_service, "setting": ln.setting} for ln in case.lines]))


def _ptp_ref(c: PtpConflict) -> RuleRef:
    e = c.edit
    return edge_ref("NCCI PTP row", f"{e.release}|{e.setting}|{c.column1.code}|{c.column2.code}|{e.effective}",
                    e.release, setting=e.setting, column1=c.column1.code, column2=c.column2.code,
                    effective=str(e.effective), deletion=str(e.deletion) if e.deletion else None,
                    modifier_indicator=e.modifier_indicator, rationale=e.rationale)


def check_ptp(out: ClaimEditsOut, found: Findings) -> None:
    rules = found.rules
    for c in out.ptp_conflicts:
        if c.outcome == "not_applicable":
            continue
        lines = [c.column1.line_id, c.column2.line_id]
        codes = [c.column1.code, c.column2.code]
        if c.outcome == "bypassed":
            assert c.bypassed_by is not None
            ref = rules.modifier_ref(c.bypassed_by.modifier)
            found.add("compliant", "ncci_ptp", "warning",
                      f"{c.column2.code} is bundled into {c.column1.code}; modifier {c.bypassed_by.modifier} on "
                      f"line {c.bypassed_by.line_id} bypasses the edit (indicator 1) — only if the documentation "
                      f"shows a distinct service.", rule=_ptp_ref(c), cited=[ref] if ref else [], codes=codes,
                      lines=lines, needs_review="the documentation must show a distinct service for the modifier")
            continue
        present = [rules.modifier_ref(u.modifier) for u in c.ineffective_modifiers]
        if c.modifier_indicator == 0:
            why = ("modifier indicator 0: no modifier can ever bypass this edit"
                   + (f" ({', '.join(u.modifier for u in c.ineffective_modifiers)} sent, not effective)"
                      if c.ineffective_modifiers else "") + f"; remove line {c.column2.line_id}")
            cited = [r for r in present if r]
        else:
            options = rules.bypassing_modifiers() or c.bypass_options
            why = (f"modifier indicator 1: a modifier the rules allow ({', '.join(options[:8])}…) on line "
                   f"{c.column2.line_id} would bypass it if the documentation shows a distinct service")
            cited = [r for r in (rules.modifier_ref(m) for m in options) if r] + [r for r in present if r]
        found.add("compliant", "ncci_ptp", "error",
                  f"{c.column2.code} (line {c.column2.line_id}) is bundled into {c.column1.code} (line "
                  f"{c.column1.line_id}): line {c.column2.line_id} is denied; {why} ({c.edit.release}, "
                  f"effective {c.edit.effective}).", rule=_ptp_ref(c), cited=cited, codes=codes, lines=lines)


def check_mue(out: ClaimEditsOut, found: Findings) -> None:
    for v in out.mue_violations:
        rule = RuleRef(id=mue_key(v.release, v.setting, v.code), kind="MUE", label=L.MUE, release=v.release,
                       detail={"value": v.value, "mai": v.mai, "rationale": v.rationale})
        found.add("compliant", "ncci_mue", "error", v.explanation, rule=rule, codes=[v.code], lines=v.line_ids)


def check_modifiers(case: Case, mapped: list[MappedProcedure], found: Findings) -> None:
    rules = found.rules
    for ln in case.lines:
        if all(m in ln.modifiers for m in LATERAL):
            found.add("compliant", "modifiers", "error",
                      f"line {ln.line_id} carries both LT and RT: a procedure on both sides is one line with 50 "
                      f"where the payer allows it, or two lines.", cited=[r for r in map(rules.modifier_ref, LATERAL)
                                                                         if r], codes=[ln.code], lines=[ln.line_id])
        if "50" in ln.modifiers and ln.units > 1:
            found.add("compliant", "modifiers", "warning",
                      f"line {ln.line_id} bills {ln.code}-50 with {ln.units} units: a bilateral procedure is one "
                      f"unit with 50 (most payers).", cited=[r for r in [rules.modifier_ref("50")] if r],
                      codes=[ln.code], lines=[ln.line_id])
    # What the documented procedure calls for: the map target's modifiers (laterality, bilateral).
    for mp in mapped:
        if mp.map.system not in ("cpt", "hcpcs") or not mp.map.modifiers:
            continue
        for ln in (ln for ln in case.lines if ln.code == mp.map.code):
            missing = [m for m in mp.map.modifiers if m not in ln.modifiers]
            wrong = [m for m in ln.modifiers if m in (*LATERAL, "50") and m not in mp.map.modifiers]
            if missing or wrong:
                found.add("compliant", "modifiers", "error" if wrong else "warning",
                          f"line {ln.line_id} {ln.code}: the documented procedure ({mp.concept}, evidence "
                          f"{mp.evidence}) maps to {ln.code}-{'-'.join(mp.map.modifiers)}"
                          + (f"; {', '.join(wrong)} contradicts the documentation" if wrong else "")
                          + (f"; add {', '.join(missing)}" if missing else "") + ".",
                          rule=mp.map.ref(), cited=[r for r in map(rules.modifier_ref, [*missing, *wrong]) if r],
                          codes=[ln.code], lines=[ln.line_id], evidence=[mp.evidence])


def check_coverage_of_lines(graph: Graph, case: Case, found: Findings) -> None:
    if not case.lines or not case.encounter.payer:
        return
    try:
        out = check_coverage(graph, CoverageIn(
            payer=case.encounter.payer, procedures=[ln.code for ln in case.lines], diagnoses=list(case.dx_codes()),
            date_of_service=case.encounter.discharge_date))
    except ServiceError as exc:
        found.add("compliant", "coverage", "info", f"coverage not checked: {exc.detail}")
        return
    for r in out.results:
        lines = [ln.line_id for ln in case.lines if ln.code == r.procedure]
        rule = (RuleRef(id=f"{r.policy.release}|{r.policy.payer}|{r.policy.document_id}|{r.policy.version}|"
                           f"{r.policy.rule_id}", kind="PolicyRule", label=L.PolicyRule, release=r.policy.release,
                        detail={"document_id": r.policy.document_id, "title": r.policy.title})
                if r.policy else None)
        if r.status == "not_covered":
            found.add("compliant", "coverage", "error", f"{r.procedure}: {r.reason}", rule=rule,
                      codes=[r.procedure], lines=lines)
        elif r.status == "needs_review":
            found.add("compliant", "coverage", "warning", f"{r.procedure}: {r.reason}", rule=rule,
                      codes=[r.procedure], lines=lines, needs_review=r.reason)
