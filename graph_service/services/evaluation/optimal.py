"""The optimal family: the MS-DRG the assignment groups to now, and the compliant, evidence-supported
alternatives that change it — a documented CC/MCC not coded, a documented secondary diagnosis sequenced as
principal — with weight and payment deltas. Only codes the encounter's evidence documents are ever tried."""

from __future__ import annotations

from dataclasses import dataclass

from codegraph.settings import Settings
from graph_service.errors import Unprocessable
from graph_service.graph import Graph
from graph_service.models.evaluation import Alternative, DrgNow, RuleRef
from graph_service.services.drg import base_rate
from graph_service.services.drg_facts import Facts, read_facts
from graph_service.services.drg_grouper import (
    Claim,
    Grouped,
    GrouperChoice,
    dotted,
    engine,
    grouper_for,
    grouper_sex_code,
)
from graph_service.services.evaluation.case import Case
from graph_service.services.evaluation.findings import Findings, rule_ref
from graph_service.services.evaluation.supported import Documented
from graph_service.services.evaluation.trusted import trusted
from loaders.msdrg_tables.load import drg_key
from ontology.vocabulary import L


@dataclass
class _Try:
    kind: str  # missed_cc_mcc | resequence_principal
    code: str  # dotted: the code added, or the secondary made principal
    claim: Claim
    evidence: list[str]
    changes: list[str]


def base_claim(case: Case) -> Claim:
    e = case.encounter
    return Claim(case.principal.code, case.principal.poa, tuple((d.code, d.poa) for d in case.secondary),
                 tuple(p.code for p in case.procedures), e.age, grouper_sex_code(e.sex), e.discharge_status)


def _alternatives(case: Case, base: Claim, docs: Documented) -> list[_Try]:
    dx = case.dx_codes()  # dotted, principal first
    coded = set(dx)
    tries: list[_Try] = []
    for code in docs.diagnoses():
        if code in coded or len(base.sdx) >= 24:
            continue
        poa = docs.poa.get(code, "Y")
        # Claims are built directly: dataclasses.replace re-reads every field through the constructor's checks.
        added = Claim(base.pdx, base.pdx_poa, (*base.sdx, (code.replace(".", ""), poa)), base.procedures, base.age,
                      base.sex, base.discharge_status)
        tries.append(_Try("missed_cc_mcc", code, added, docs.codes[f"icd10cm:{code}"], [f"add {code} (POA {poa})"]))
    for i, d in enumerate(case.secondary):
        code = dx[i + 1]
        ids = docs.codes.get(f"icd10cm:{code}", [])
        if not any(case.evidence[x].admission_reason for x in ids if x in case.evidence):
            continue  # only a condition documented as a reason for admission may be principal (II, II.C)
        sdx = list(base.sdx)
        sdx[i] = (base.pdx, base.pdx_poa)
        tries.append(_Try("resequence_principal", code, Claim(d.code, d.poa, tuple(sdx), base.procedures, base.age,
                                                             base.sex, base.discharge_status),
                          ids, [f"sequence {code} as principal, {dx[0]} as secondary"]))
    return tries


@dataclass(slots=True)
class _Outcome:
    """What the evaluation reads of a grouped claim."""

    drg: str
    return_code: str
    severity: str
    mdc: str | None
    unknown_diagnoses: bool  # a secondary diagnosis the grouper does not know


def _outcome(claim: Claim, choice: GrouperChoice, shared: dict[tuple[str, str | None], dict[str, str]]) -> _Outcome:
    grouped = Grouped(claim, engine().group(claim.engine_input(choice.engine, shared)))  # type: ignore[arg-type]
    return _Outcome(grouped.drg, grouped.return_code, grouped.severity, grouped.mdc,
                    bool(grouped.unknown_diagnoses()))


def _group(claims: list[Claim], choice: GrouperChoice) -> list[_Outcome]:
    """Each claim grouped, keeping only what the evaluation reads: each grouper answer (~60 objects decoded from its
    JSON) is freed before the next claim is grouped, so the next one is decoded into the same, cache-warm memory —
    as in a loop over msdrg alone — instead of four answers being held until the evaluation ends."""
    shared: dict[tuple[str, str | None], dict[str, str]] = {}  # code entries common to the claims (read only)
    return [_outcome(c, choice, shared) for c in claims]


def _payment(weight: float | None, rate: float) -> float | None:
    return round(weight * rate, 2) if weight is not None else None


def _drg_ref(facts: Facts, version: int, drg: str) -> RuleRef:
    d = facts.drgs.get(drg, {})
    return rule_ref(drg_key(version, drg), "MSDRG", L.MSDRG, facts.release,
                    detail={"title": d.get("title"), "weight": d.get("weight")})


def check_optimal(graph: Graph, settings: Settings, case: Case, docs: Documented, found: Findings) -> DrgNow | None:
    if not case.inpatient:
        return None
    try:
        choice = grouper_for(case.encounter.discharge_date)
    except Unprocessable as exc:
        found.add("optimal", "drg", "info", f"not grouped: {exc.detail}", needs_review="no grouper for the date")
        return None
    base = base_claim(case)
    tries = _alternatives(case, base, docs)
    results = _group([base, *(t.claim for t in tries)], choice)
    head = results[0]
    try:
        facts = read_facts(graph, choice, base.pdx, [t.code for t in tries if t.kind == "missed_cc_mcc"],
                           [r.drg for r in results], [])
    except Unprocessable as exc:
        found.add("optimal", "drg", "info", f"not grouped: {exc.detail}", needs_review="no MS-DRG tables loaded")
        return None
    rate, source = base_rate(settings, case.encounter.payer)
    head_drg, head_code, severity = head.drg, head.return_code, head.severity
    now = facts.drgs.get(head_drg, {})
    weight = _float(now.get("weight"))
    # Built from the grouper's answer and the release's tables, in the declared types: not validated again.
    drg_now = trusted(DrgNow, drg=head_drg, title=now.get("title"), mdc=head.mdc, severity=severity, weight=weight,
                      expected_payment=_payment(weight, rate), grouper_version=str(choice.version),
                      release=facts.release, return_code=head_code)
    if head_code != "OK" or head_drg in ("998", "999"):
        found.add("optimal", "drg", "error", f"the claim does not group (DRG {head_drg}, {head_code}).",
                  rule=_drg_ref(facts, choice.version, head_drg), codes=[dotted(base.pdx)])
        return drg_now
    found.add("optimal", "drg", "info",
              f"MS-DRG {head_drg} {now.get('title') or ''} ({severity}), weight {now.get('weight')}, expected "
              f"payment ${drg_now.expected_payment or 0:,.2f} (base rate {source}).",
              rule=_drg_ref(facts, choice.version, head_drg))
    for t, grouped in zip(tries, results[1:], strict=True):
        _consider(t, grouped, head_drg, facts, choice.version, rate, found)
    return drg_now


def _float(value: float | None) -> float | None:
    """A weight as the response model holds it (validation would make an integer a float)."""
    return value if value is None or type(value) is float else float(value)


def _consider(t: _Try, grouped: _Outcome, head_drg: str, facts: Facts, version: int, rate: float,
              found: Findings) -> None:
    drg = grouped.drg
    if drg == head_drg or grouped.return_code != "OK" or grouped.unknown_diagnoses:
        return
    before, after = facts.drgs.get(head_drg, {}), facts.drgs.get(drg, {})
    w0, w1 = before.get("weight"), after.get("weight")
    if w0 is None or w1 is None or w1 <= w0:
        return  # an alternative is offered only when it is worth more and the evidence supports it
    alt = trusted(Alternative, changes=list(t.changes), drg=drg, title=after.get("title"), severity=grouped.severity,
                  weight=_float(w1), expected_payment=_payment(w1, rate), delta_weight=round(w1 - w0, 4),
                  delta_payment=round((w1 - w0) * rate, 2), supported_by=list(t.evidence))
    if t.kind == "missed_cc_mcc":
        des = facts.designations.get(t.code)
        level = des["level"] if des else "a severity-changing code"
        rule = (rule_ref(drg_key(version, t.code), "SeverityDesignation", L.SeverityDesignation, facts.release,
                         detail={"level": level, "collection": des.get("collection")})
                if des else _drg_ref(facts, version, drg))
        found.add("optimal", "missed_cc_mcc", "opportunity",
                  f"{t.code} ({level}) is documented ({', '.join(t.evidence)}) but not coded: DRG {head_drg} → "
                  f"{drg}, weight {w0} → {w1} (+${alt.delta_payment:,.2f}).", rule=rule,
                  cited=[_drg_ref(facts, version, drg)], codes=[t.code], evidence=t.evidence, alternative=alt)
    else:
        found.add("optimal", "resequence_principal", "opportunity",
                  f"{t.code} as principal diagnosis: DRG {head_drg} → {drg}, weight {w0} → {w1} "
                  f"(+${alt.delta_payment:,.2f}).", rule=_drg_ref(facts, version, drg), codes=[t.code],
                  evidence=t.evidence, alternative=alt,
                  needs_review="only if the condition, after study, occasioned the admission (or both equally did)")
