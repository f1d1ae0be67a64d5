"""Edit a claim: NCCI procedure-to-procedure conflicts, MUE unit limits, and the diagnosis-side checks.

Steps, each naming the rule it used:
1. Releases: per date of service, the NCCI PTP and MUE releases in force (a quarter each).
2. PTP: for lines on the same date of service and setting, the BUNDLES edge column 1 → column 2 of that
   release whose window (effective … deletion, both inclusive) covers the date. Indicator 0: the column-2
   line is denied whatever its modifiers; 1: an NCCI-associated modifier (normally on the column-2 line)
   bypasses it; 9: the edit does not apply.
3. MUE: MAI 1 compares each line's units; MAI 2 and 3 the units summed per code and date of service.
4. Diagnoses: the code-set validation (existence, billable, EXCLUDES1, CODE_FIRST / USE_ADDITIONAL) per
   date of service, and the Medicare Code Editor (``msdrg``) with the patient's age and sex.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import defaultdict
from datetime import date
from functools import lru_cache
from typing import Any

import msdrg

from graph_service.errors import NotFound
from graph_service.graph import Graph
from graph_service.models.claim_edits import (
    ClaimEditsIn,
    ClaimEditsOut,
    ClaimLineIn,
    DiagnosisFindings,
    DiagnosisIn,
    LineRef,
    LineResult,
    MceEdit,
    MceEditRule,
    MceOut,
    ModifierUse,
    MueViolation,
    PatientIn,
    PtpConflict,
    PtpEditRow,
    ReleasesUsed,
)
from graph_service.models.validation import CodeIn, ValidateCodesIn
from graph_service.reference.ncci_tables import (
    MueTable,
    ProcedureCodes,
    PtpTable,
    build_mue_table,
    build_procedure_codes,
    build_ptp_table,
)
from graph_service.services.drg import grouper_sex_code
from graph_service.services.drg_grouper import fiscal_year as mce_fiscal_year
from graph_service.services.mce_edits import SEX_EDITS, applied_edits, explained
from graph_service.services.releases import resolve_release
from graph_service.services.validation import validate_codes
from loaders.ncci import ptp_ranges
from loaders.ncci.load import mue_key, procedure_system
from ontology.release_ranges import in_release
from ontology.vocabulary import L, R

log = logging.getLogger(__name__)

# NCCI-associated modifiers (CMS NCCI policy manual, ch. I): the only ones that bypass an indicator-1 edit.
ANATOMIC_MODIFIERS = (
    "E1", "E2", "E3", "E4", "FA", *(f"F{i}" for i in range(1, 10)), "TA", *(f"T{i}" for i in range(1, 10)),
    "LT", "RT", "LC", "LD", "LM", "RC", "RI",
)
GLOBAL_SURGERY_MODIFIERS = ("24", "25", "57", "58", "78", "79")
OTHER_MODIFIERS = ("27", "59", "91", "XE", "XS", "XP", "XU")
NCCI_MODIFIERS = (*OTHER_MODIFIERS, *GLOBAL_SURGERY_MODIFIERS, *ANATOMIC_MODIFIERS)
PTP_SETTINGS = ("practitioner", "outpatient_hospital")  # CMS publishes no PTP table for DME suppliers
NCCI_DEPENDS = ("cpt", "hcpcs", "ncci_ptp", "ncci_mue")  # the loads that create procedure code nodes

# Everything a claim needs from the graph, in one round trip: which line codes the graph knows, the PTP
# edges among each date-of-service group's codes, and the MUE of each code and setting.
CLAIM_FACTS = f"""
CALL () {{
  UNWIND $keys AS key
  OPTIONAL MATCH (c:{L.Code} {{key: key}})
  OPTIONAL MATCH (r:{L.Release} {{status: 'visible'}}) WHERE r.system IN ['cpt', 'hcpcs'] AND {in_release('c', 'r')}
  WITH key, c, collect(r.id) AS releases
  RETURN collect({{key: key, known: c IS NOT NULL, releases: releases}}) AS known
}}
CALL () {{
  // Both ends bound first, so the planner expands into the pair instead of over a dense code's every edit.
  // The edits valid in the group's quarter: each edge is stored over a range of quarters (loaders.ncci.ptp_ranges).
  UNWIND $groups AS g
  MATCH (rel:{L.Release} {{id: g.release}})
  WITH g, {ptp_ranges.SCOPE} AS scope
  MATCH (a:{L.Code}) WHERE a.key IN g.keys
  MATCH (b:{L.Code}) WHERE b.key IN g.keys AND b <> a
  MATCH (a)-[e:{R.BUNDLES}]->(b)
  WHERE {ptp_ranges.valid_in('e', 'scope')}
    AND e.setting = g.setting AND e.effective <= g.dos AND (e.deletion IS NULL OR g.dos <= e.deletion)
  WITH g, a, b, e ORDER BY e.effective DESC
  RETURN collect({{grp: g.id, column1: a.key, column2: b.key, edit: properties(e)}}) AS ptp
}}
CALL () {{
  UNWIND $mue_keys AS key
  MATCH (m:{L.MUE} {{key: key}})
  RETURN collect({{key: key, code: m.code, value: m.value, mai: m.mai, mai_text: m.mai_text,
                  rationale: m.rationale}}) AS mues
}}
RETURN known, ptp, mues
"""


def ncci_tables(graph: Graph, ptp_releases: set[str], mue_releases: set[str]) -> tuple[
    ProcedureCodes | None, dict[str, PtpTable | None], dict[str, MueTable | None]
]:
    """The procedure codes and the NCCI quarters' tables held in memory (None where still being built)."""
    store = graph.reference
    catalog = store.catalog()
    codes = store.table(("procedure_codes",), catalog.fingerprint(*NCCI_DEPENDS),
                        lambda: build_procedure_codes(graph.driver, graph.database))
    ptp = {rel: store.table(("ncci_ptp", rel), catalog.fingerprint("ncci_ptp"),
                            lambda r=rel: build_ptp_table(graph.driver, graph.database, r)) for rel in ptp_releases}
    mue = {rel: store.table(("ncci_mue", rel), catalog.fingerprint("ncci_mue"),
                            lambda r=rel: build_mue_table(graph.driver, graph.database, r)) for rel in mue_releases}
    return codes, ptp, mue


def claim_facts(graph: Graph, keys: list[str], groups: list[dict[str, Any]], mue_keys: list[str]) -> dict[str, Any]:
    """``CLAIM_FACTS`` — the known codes, the PTP edges within each group, the MUEs — from the quarter's tables
    held in memory, or from the graph in one round trip while they are being built."""
    codes, ptp, mue = ncci_tables(graph, {g["release"] for g in groups}, {k.split("|", 1)[0] for k in mue_keys})
    if codes is None or any(t is None for t in (*ptp.values(), *mue.values())):
        return graph.read_one(CLAIM_FACTS, keys=keys, groups=groups, mue_keys=mue_keys) or \
            {"known": [], "ptp": [], "mues": []}
    known = [{"key": k, "known": k in codes.releases, "releases": codes.releases.get(k, [])} for k in keys]
    edges = []
    for g in groups:
        table = ptp[g["release"]]
        assert table is not None
        for a in g["keys"]:
            for b in g["keys"]:
                for edit in table.edits.get((a, b), ()) if a != b else ():
                    if edit.covers(g["setting"], g["dos"]):
                        edges.append({"grp": g["id"], "column1": a, "column2": b, "edit": edit.as_edit()})
    edges.sort(key=lambda e: e["edit"]["effective"], reverse=True)
    mues = [found for k in mue_keys if (found := mue[k.split("|", 1)[0]].mues.get(k)) is not None]  # type: ignore[union-attr]
    return {"known": known, "ptp": edges, "mues": mues}


def _release_id(graph: Graph, system_id: str, day: date, notes: list[str]) -> str | None:
    try:
        return resolve_release(graph, system_id, None, day).id
    except NotFound as exc:
        notes.append(f"{system_id} not checked for {day.isoformat()}: {exc.detail}")
        return None


def _as_date(value: Any) -> date | None:
    return value.to_native() if hasattr(value, "to_native") else value


# ---- PTP ---------------------------------------------------------------------------------------------------
def _bypass(indicator: int, col1: ClaimLineIn, col2: ClaimLineIn) -> tuple[ModifierUse | None, list[ModifierUse]]:
    """The modifier that bypasses the edit (column-2 line first), and the NCCI modifiers present that do not."""
    present = [ModifierUse(line_id=line.line_id, modifier=m)
               for line in (col2, col1) for m in line.modifiers if m in NCCI_MODIFIERS]
    if indicator != 1:
        return None, present
    for use in present:
        other = col1 if use.line_id == col2.line_id else col2
        # The same anatomic modifier on both lines names the same site: not a distinct service.
        if use.modifier in ANATOMIC_MODIFIERS and use.modifier in other.modifiers:
            continue
        return use, [p for p in present if p is not use]
    return None, present


def _conflict(day: date, setting: str, col1: ClaimLineIn, col2: ClaimLineIn, release: str,
              edit: dict[str, Any]) -> PtpConflict:
    indicator = int(edit["modifier_indicator"])
    bypassed_by, ineffective = _bypass(indicator, col1, col2)
    row = PtpEditRow(release=release, setting=setting, effective=_as_date(edit["effective"]),
                     deletion=_as_date(edit.get("deletion")), modifier_indicator=indicator,
                     rationale=edit["rationale"], prior_1996=bool(edit.get("prior_1996")))
    pair = f"{col2.code} (line {col2.line_id}) is bundled into {col1.code} (line {col1.line_id})"
    window = f"{release}, effective {row.effective}" + (f" to {row.deletion}" if row.deletion else "")
    options: list[str] = []
    if indicator == 9:
        outcome, denied = "not_applicable", None
        why = f"{pair} by an edit with modifier indicator 9: the edit does not apply ({window})."
    elif indicator == 0:
        outcome, denied = "denied", col2.line_id
        shown = ", ".join(f"{u.modifier} on line {u.line_id}" for u in ineffective)
        why = (f"{pair}: line {col2.line_id} is denied. Modifier indicator 0: no modifier bypasses this edit"
               + (f" ({shown} does not)" if shown else "") + f" ({window}; {row.rationale}).")
    elif bypassed_by is not None:
        outcome, denied = "bypassed", None
        why = (f"{pair}, but modifier {bypassed_by.modifier} on line {bypassed_by.line_id} bypasses the edit "
               f"(indicator 1), if the documentation supports a distinct service ({window}).")
    else:
        outcome, denied = "denied", col2.line_id
        options = list(NCCI_MODIFIERS)
        why = (f"{pair}: line {col2.line_id} is denied. Modifier indicator 1: an NCCI-associated modifier on "
               f"line {col2.line_id} (e.g. 59, XS, XU, or anatomic LT/RT) would bypass it if a distinct service "
               f"is documented ({window}; {row.rationale}).")
    return PtpConflict(
        date_of_service=day, setting=setting,
        column1=LineRef(line_id=col1.line_id, code=col1.code, modifiers=col1.modifiers),
        column2=LineRef(line_id=col2.line_id, code=col2.code, modifiers=col2.modifiers),
        outcome=outcome, denied_line_id=denied, modifier_indicator=indicator, bypassed_by=bypassed_by,
        bypass_options=options, ineffective_modifiers=ineffective, edit=row, explanation=why,
    )


def _ptp_groups(groups: dict[tuple[date, str], list[ClaimLineIn]], releases: dict[date, str | None],
                keys: dict[str, str]) -> list[dict[str, Any]]:
    """The date-of-service groups whose codes can conflict: a PTP setting, a release in force, two codes."""
    params = []
    for index, ((day, setting), lines) in enumerate(groups.items()):
        codes = {keys[line.line_id] for line in lines if line.line_id in keys}
        if setting in PTP_SETTINGS and releases[day] and len(codes) > 1:
            params.append({"id": index, "keys": sorted(codes), "release": releases[day], "setting": setting,
                           "dos": day})
    return params


def _ptp_conflicts(edges: list[dict[str, Any]], groups: dict[tuple[date, str], list[ClaimLineIn]],
                   releases: dict[date, str | None], keys: dict[str, str]) -> list[PtpConflict]:
    by_index = list(groups.items())
    conflicts: list[PtpConflict] = []
    seen: set[tuple[int, str, str]] = set()
    for rec in edges:
        if (rec["grp"], rec["column1"], rec["column2"]) in seen:
            continue  # windows of one pair do not overlap; if they did, the latest effective row wins
        seen.add((rec["grp"], rec["column1"], rec["column2"]))
        (day, setting), lines = by_index[rec["grp"]]
        firsts = [line for line in lines if keys.get(line.line_id) == rec["column1"]]
        seconds = [line for line in lines if keys.get(line.line_id) == rec["column2"]]
        conflicts += [_conflict(day, setting, c1, c2, releases[day] or "", rec["edit"])
                      for c1 in firsts for c2 in seconds]
    return sorted(conflicts, key=lambda c: (c.date_of_service, c.setting, c.column2.line_id, c.column1.line_id))


# ---- MUE ---------------------------------------------------------------------------------------------------
_MAI_MEANING = {
    1: "MAI 1 (line edit): the line is denied; units above the MUE on one line need separate lines with "
       "modifiers (76, 77, anatomic, 59 or X{EPSU}) when each is a distinct service.",
    2: "MAI 2 (date of service, policy): all lines with the code on that date are denied; the limit is "
       "absolute and not overturned on appeal.",
    3: "MAI 3 (date of service, clinical): all lines with the code on that date are denied; may be appealed "
       "with documentation of medical necessity.",
}


def _mue_keys(groups: dict[tuple[date, str], list[ClaimLineIn]], releases: dict[date, str | None],
              keys: dict[str, str]) -> list[str]:
    return sorted({mue_key(releases[day] or "", setting, line.code)
                   for (day, setting), lines in groups.items() if releases[day]
                   for line in lines if line.line_id in keys})


def _mue_violations(mues: dict[str, dict[str, Any]], groups: dict[tuple[date, str], list[ClaimLineIn]],
                    releases: dict[date, str | None]) -> list[MueViolation]:
    out: list[MueViolation] = []
    for (day, setting), lines in groups.items():
        release = releases[day]
        by_code: dict[str, list[ClaimLineIn]] = defaultdict(list)
        for line in lines:
            by_code[line.code].append(line)
        for code, same in by_code.items():
            mue = mues.get(mue_key(release or "", setting, code)) if release else None
            if mue is None:
                continue
            units_groups = [[line] for line in same] if mue["mai"] == 1 else [same]
            for group in units_groups:
                units = sum(line.units for line in group)
                if units <= mue["value"]:
                    continue
                scope = f"line {group[0].line_id}" if mue["mai"] == 1 else f"{code} on {day.isoformat()}"
                out.append(MueViolation(
                    date_of_service=day, setting=setting, code=code, line_ids=[line.line_id for line in group],
                    units=units, value=mue["value"], excess_units=units - mue["value"], mai=mue["mai"],
                    mai_text=mue["mai_text"], rationale=mue["rationale"], release=release or "",
                    explanation=(f"{units} units of {code} for {scope} exceed the {setting} MUE of {mue['value']} "
                                 f"({release}; {mue['rationale']}). {_MAI_MEANING.get(mue['mai'], '')}").strip(),
                ))
    return out


# ---- diagnoses: validation and the Medicare Code Editor ------------------------------------------------------
_editor_lock = threading.Lock()
_editor: msdrg.MceEditor | None = None


def mce_editor() -> msdrg.MceEditor:
    """One editor per process (thread-safe once built); closed at exit."""
    global _editor
    with _editor_lock:
        if _editor is None:
            _editor = msdrg.MceEditor()
            atexit.register(_editor.close)
        return _editor


def mce_claim(discharge: date, age_years: int | None, sex: str | None, discharge_status: int | None, pdx: str,
              sdx: list[str]) -> dict[str, Any]:
    """The editor's claim: codes without dots, age in whole years, the grouper's sex code."""
    return {"discharge_date": discharge.year * 10000 + discharge.month * 100 + discharge.day,  # YYYYMMDD
            "age": age_years, "sex": grouper_sex_code(sex), "discharge_status": discharge_status,
            "pdx": {"code": pdx}, "sdx": [{"code": c} for c in sdx], "procedures": []}


def _mce_claim(discharge: date, patient: PatientIn, pdx: str, sdx: list[str]) -> dict[str, Any]:
    return mce_claim(discharge, patient.age.whole_years(), patient.sex, patient.discharge_status, pdx, sdx)


@lru_cache(maxsize=4096)
def _edit_tables(discharge: date, sex_given: bool) -> tuple[tuple[MceEditRule, ...], tuple[MceEditRule, ...]]:
    """The edits of the MCE in force on ``discharge`` as checked (and not) for a claim with or without a sex:
    built once per date, since a response only serialises them."""
    unchecked = frozenset() if sex_given else SEX_EDITS
    rules = [MceEditRule(name=n, explanation=explained(n)) for n in applied_edits(discharge, mce_editor())]
    return (tuple(r for r in rules if r.name not in unchecked), tuple(r for r in rules if r.name in unchecked))


def _edit_type(full: dict[str, Any], kept: list[dict[str, Any]]) -> str:
    """The claim's edit type from the edits reported: the editor's own when none was left out (sex edits without a
    sex), else the one type the kept edits share (the editor's may come from an edit left out)."""
    if len(kept) == len(full["edits"]):
        return full["edit_type"]
    types = {e["edit_type"] for e in kept}
    return "NONE" if not kept else types.pop() if len(types) == 1 else full["edit_type"]


def run_mce(diagnoses: list[DiagnosisIn], patient: PatientIn, discharge: date) -> MceOut:
    """The MCE on the whole claim; each edit is then traced to the codes that raise it (the principal alone,
    then the principal with each secondary), since the editor itself only counts. Only the edits the MCE in
    force on the discharge date applies are named (``mce_edits``); without a sex, its sex edits are not checked
    (the editor reads a missing sex as "unknown", which versions before FY2025 flag)."""
    codes = [d.code.strip().upper().replace(".", "") for d in diagnoses]
    dotted = {c: d.code.strip().upper() for c, d in zip(codes, diagnoses, strict=True)}
    editor = mce_editor()
    unchecked = SEX_EDITS if patient.sex is None else frozenset()
    applied, not_checked = _edit_tables(discharge, patient.sex is not None)

    def raised(pdx: str, sdx: list[str]) -> list[dict[str, Any]]:
        out = editor.edit(_mce_claim(discharge, patient, pdx, sdx))
        return [e for e in out["edits"] if e["name"] not in unchecked]

    full = editor.edit(_mce_claim(discharge, patient, codes[0], codes[1:]))
    full_edits = [e for e in full["edits"] if e["name"] not in unchecked]
    out = MceOut(discharge_date=discharge, edit_type=_edit_type(full, full_edits),
                 edits=[], version=full.get("version"), fiscal_year=mce_fiscal_year(discharge),
                 edits_applied=list(applied), not_checked=list(not_checked))
    if not full_edits:  # nothing to trace to its codes: one editor call instead of one per diagnosis
        return out
    alone = {e["name"]: e["count"] for e in raised(codes[0], [])}
    raised_by: dict[str, list[str]] = defaultdict(list)
    for name in alone:
        raised_by[name].append(dotted[codes[0]])
    for code in codes[1:]:
        for e in raised(codes[0], [code]):
            if e["count"] > alone.get(e["name"], 0) and dotted[code] not in raised_by[e["name"]]:
                raised_by[e["name"]].append(dotted[code])
    out.edits = [MceEdit(name=e["name"], explanation=explained(e["name"]), code_type=e["code_type"],
                         edit_type=e["edit_type"], count=e["count"], codes=raised_by.get(e["name"], []))
                 for e in full_edits]
    return out


def _diagnosis_findings(graph: Graph, body: ClaimEditsIn, dates: list[date]) -> DiagnosisFindings:
    ordered = sorted(body.diagnoses or [], key=lambda d: d.sequence)
    findings = DiagnosisFindings(principal=ordered[0].code.strip().upper() if ordered else None, validation=[])
    if not ordered:
        findings.mce_not_run = "no diagnoses sent"
        return findings
    codes = [CodeIn(system="icd10cm", code=d.code) for d in ordered]
    findings.validation = [validate_codes(graph, ValidateCodesIn(codes=codes, date_of_service=day)) for day in dates]
    if body.patient is None:
        findings.mce_not_run = "send patient {age, sex} to run the Medicare Code Editor"
        try:
            in_force = ", ".join(applied_edits(dates[-1], mce_editor())) or "none (the editor does not cover this date)"
            findings.mce_not_run += (f"; in force on {dates[-1].isoformat()} (FY{mce_fiscal_year(dates[-1])}) it "
                                     f"applies {in_force}")
        except RuntimeError as exc:  # msdrg's MCE data unreadable: the hint goes without the list
            log.warning("the MCE's edits in force could not be derived: %s", exc)
        return findings
    try:
        findings.mce = run_mce(ordered, body.patient, dates[-1])
    except (ValueError, RuntimeError) as exc:  # the editor refuses input it cannot read: report, do not fail
        findings.mce_not_run = f"the Medicare Code Editor refused the claim: {exc}"
    return findings


# ---- the claim ---------------------------------------------------------------------------------------------
def check_claim(graph: Graph, body: ClaimEditsIn) -> ClaimEditsOut:
    notes: list[str] = []
    dates = sorted({line.date_of_service for line in body.lines})
    ptp_releases = {day: _release_id(graph, "ncci_ptp", day, notes) for day in dates}
    mue_releases = {day: _release_id(graph, "ncci_mue", day, notes) for day in dates}

    # Only well-formed CPT/HCPCS codes take part in the edits; the rest are reported on their line.
    keys: dict[str, str] = {}
    for line in body.lines:
        cs = procedure_system(line.code)
        if cs.accepts(line.code):
            keys[line.line_id] = cs.key(line.code)
    groups: dict[tuple[date, str], list[ClaimLineIn]] = defaultdict(list)
    for line in body.lines:
        groups[(line.date_of_service, line.setting)].append(line)
    if any(setting == "dme" for _, setting in groups):
        notes.append("PTP edits not checked for dme lines: CMS publishes PTP tables for practitioner and "
                     "outpatient hospital claims only")
    facts = claim_facts(graph, sorted(set(keys.values())), _ptp_groups(groups, ptp_releases, keys),
                        _mue_keys(groups, mue_releases, keys))
    known = {rec["key"]: rec for rec in facts["known"]}
    ptp = _ptp_conflicts(facts["ptp"], groups, ptp_releases, keys)
    mue = _mue_violations({rec["key"]: rec for rec in facts["mues"]}, groups, mue_releases)

    reasons: dict[str, list[str]] = defaultdict(list)
    for c in ptp:
        if c.denied_line_id:
            reasons[c.denied_line_id].append(f"NCCI PTP: bundled into {c.column1.code} (line {c.column1.line_id})")
    for v in mue:
        for line_id in v.line_ids:
            reasons[line_id].append(f"MUE: {v.units} units of {v.code} over {v.value} (MAI {v.mai})")
    results = []
    for line in body.lines:
        key = keys.get(line.line_id)
        rec = known.get(key) if key else None
        issues = list(reasons[line.line_id])
        if key is None:
            issues.insert(0, f"{line.code!r} is not a well-formed CPT or HCPCS code: no edit was checked")
        elif not rec or not rec["known"]:
            issues.insert(0, f"{line.code} is unknown: no code release or NCCI table in the graph names it")
        results.append(LineResult(
            line_id=line.line_id, code=line.code, system=key.split("|")[0] if key else None,
            known=bool(rec and rec["known"]), code_releases=sorted(rec["releases"]) if rec else [],
            denied=bool(reasons[line.line_id]), reasons=issues,
        ))
    return ClaimEditsOut(
        lines=results, ptp_conflicts=ptp, mue_violations=mue,
        releases=[ReleasesUsed(date_of_service=d, ncci_ptp=ptp_releases[d], ncci_mue=mue_releases[d]) for d in dates],
        diagnoses=_diagnosis_findings(graph, body, dates) if body.diagnoses is not None else None,
        notes=notes,
    )
