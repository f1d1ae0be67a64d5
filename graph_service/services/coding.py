"""Record coding assignments: each assigned code linked to its supporting evidence, revisions kept.

A new assignment for an encounter supersedes the current one (which stays in the graph). A final
or amended assignment is grouped to an MS-DRG with the expected payment, and the code-set findings
(validation, edits) at that moment are stored on it, so an audit sees what the coder saw.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

from codegraph.settings import Settings
from graph_service.errors import NotFound, Unprocessable
from graph_service.graph import Graph
from graph_service.models.coding import (
    AssignmentStatus,
    CodeRole,
    CodingAssignmentIn,
    CodingAssignmentOut,
    DrgOutcome,
)
from graph_service.models.validation import CodeIn, ValidateCodesIn
from graph_service.services.validation import validate_codes
from ontology.code_systems import system
from ontology.vocabulary import L, R, seek_by_key

ENCOUNTER_CONTEXT = f"""
MATCH (e:{L.Encounter} {{id: $id}})
OPTIONAL MATCH (p:{L.Patient})-[:{R.HAS_ENCOUNTER}]->(e)
OPTIONAL MATCH (e)-[:{R.INSURED_BY}]->(payer:{L.Payer})
OPTIONAL MATCH (e)-[:{R.HAS_ASSIGNMENT}]->(current:{L.CodingAssignment})
  WHERE NOT EXISTS {{ (:{L.CodingAssignment})-[:{R.SUPERSEDES}]->(current) }}
RETURN e {{.*}} AS encounter, p {{.*}} AS patient, payer.id AS payer,
       current.id AS current, current.version AS current_version,
       [(e)-[:{R.HAS_EVIDENCE}]->(x:{L.Evidence}) | x.id] AS evidence
"""

# The payment shift of a revision, stored on it when it is recorded (and by the backfill for revisions recorded
# before): the change in expected payment against the nearest earlier version that was grouped (drafts are
# skipped), with that version's DRG, weight and payment. payment_delta_abs is indexed, so "shifts over $X" is an
# index seek instead of a walk over every assignment's revision chain. A body for ``CALL (a) { … }``.
RECORD_PAYMENT_SHIFT = f"""
  WITH a WHERE a.expected_payment IS NOT NULL
  MATCH p = (a)-[:{R.SUPERSEDES}*1..20]->(before:{L.CodingAssignment})
  WHERE before.expected_payment IS NOT NULL
    AND all(mid IN nodes(p)[1..-1] WHERE mid.expected_payment IS NULL)
  WITH a, before, a.expected_payment - before.expected_payment AS delta
  SET a.payment_delta = delta, a.payment_delta_abs = abs(delta), a.before_assignment = before.id,
      a.before_drg = before.drg, a.before_drg_weight = before.drg_weight, a.before_payment = before.expected_payment
"""

# One statement for the service (one row) and the bulk loader (batches): rows are coding assignments
# whose ``supersedes`` assignment already exists (the bulk loader writes versions in waves).
# Every lookup is pinned to a seek of its unique key's index (USING INDEX SEEK: a plain USING INDEX still lets
# the planner scan that index), and a line's evidence is sought from the encounter already bound. Planned on stale
# statistics (right after the FHIR load wrote the evidence, estimates of 0 rows), the server chose an index scan
# per cited evidence id instead, and a demo's coding load took 62 s instead of 3 (bench/RESULTS.md, session 14).
WRITE_ASSIGNMENTS = f"""
UNWIND $rows AS row
{seek_by_key('e', L.Encounter, 'row.encounter')}
MERGE (coder:{L.Coder} {{id: row.coder.id}})
  ON CREATE SET coder.kind = row.coder.kind, coder.load_run = $run
CREATE (a:{L.CodingAssignment} {{id: row.id, status: row.status, created_at: row.created_at, version: row.version,
        drg: row.drg.drg, drg_weight: row.drg.weight, expected_payment: row.drg.expected_payment,
        drg_severity: row.drg.severity, grouper_version: row.drg.grouper_version, findings: row.findings,
        note: row.note, payer: row.payer, load_run: $run}})
CREATE (e)-[:{R.HAS_ASSIGNMENT} {{release: $release, load_run: $run}}]->(a)
CREATE (a)-[:{R.ASSIGNED_BY} {{release: $release, load_run: $run}}]->(coder)
WITH a, row, e
CALL (a, row) {{
  {seek_by_key('prev', L.CodingAssignment, 'row.supersedes')}
  CREATE (a)-[:{R.SUPERSEDES} {{release: $release, load_run: $run}}]->(prev)
}}
CALL (a) {{{RECORD_PAYMENT_SHIFT}}}
CALL (a, row) {{
  {seek_by_key('d', L.MSDRG, 'row.drg_key')}
  CREATE (a)-[:{R.GROUPED_TO} {{release: $release, load_run: $run}}]->(d)
}}
CALL (a, row, e) {{
  UNWIND row.lines AS line
  {seek_by_key('c', L.Code, 'line.key')}
  CREATE (ac:{L.AssignedCode} {{id: a.id + '/' + line.role + '/' + toString(line.sequence), role: line.role,
          sequence: line.sequence, poa: line.poa, modifiers: line.modifiers, units: line.units, code: c.code,
          system: c.system, load_run: $run}})
  CREATE (a)-[:{R.HAS_CODE} {{release: $release, load_run: $run}}]->(ac)
  CREATE (ac)-[:{R.ASSIGNS} {{release: $release, load_run: $run}}]->(c)
  WITH ac, line, e
  UNWIND line.evidence AS evidence_id
  MATCH (e)-[:{R.HAS_EVIDENCE}]->(x:{L.Evidence} {{id: evidence_id}}) USING INDEX SEEK x:{L.Evidence}(id)
  CREATE (ac)-[:{R.SUPPORTED_BY} {{release: $release, load_run: $run}}]->(x)
}}
"""

CODING_RELEASE = "coding@live"  # assignments are transactional data, stamped like every other write


def _service_date(encounter: dict[str, Any]) -> date:
    for field in ("period_end", "period_start"):
        value = encounter.get(field)
        if value is not None:
            native = value.to_native() if hasattr(value, "to_native") else value
            if isinstance(native, datetime):
                return native.date()
            return native if isinstance(native, date) else date.fromisoformat(str(native)[:10])
    return date.today()


def record_assignment(graph: Graph, settings: Settings, encounter_id: str,
                      body: CodingAssignmentIn) -> CodingAssignmentOut:
    ctx = graph.read_one(ENCOUNTER_CONTEXT, id=encounter_id)
    if ctx is None:
        raise NotFound(f"no encounter {encounter_id!r}")
    encounter, patient = ctx["encounter"], ctx["patient"] or {}
    known_evidence = set(ctx["evidence"])
    bad_evidence = sorted({e for c in body.codes for e in c.evidence} - known_evidence)
    if bad_evidence:
        raise Unprocessable(f"evidence not in encounter {encounter_id}: {bad_evidence}")
    on = _service_date(encounter)
    check = validate_codes(graph, ValidateCodesIn(
        codes=[CodeIn(system=c.system, code=c.code) for c in body.codes], date_of_service=on))
    unknown = [f"{v.system}:{v.code} ({v.reason})" for v in check.codes if not v.exists]
    if unknown:
        raise Unprocessable(f"codes not valid for the encounter's date {on}: {unknown}")

    drg: DrgOutcome | None = None
    findings: dict[str, Any] = {
        "invalid_on_date": [f"{v.system}:{v.code}" for v in check.codes if not v.valid_on_date],
        "excludes1_conflicts": [c.model_dump() for c in check.excludes1_conflicts],
        "unmet_requirements": [r.model_dump() for r in check.unmet_requirements],
    }
    if body.status is not AssignmentStatus.draft:
        drg, drg_findings = group_assignment(graph, settings, encounter, patient, ctx["payer"], body, on)
        findings.update(drg_findings)
        findings.update(professional_findings(graph, body, ctx["payer"], on, encounter))

    assignment_id = f"{encounter_id}/A{(ctx['current_version'] or 0) + 1}-{uuid.uuid4().hex[:6]}"
    created_at = body.created_at or datetime.now(UTC)
    row = assignment_row(encounter_id, assignment_id, body, version=(ctx["current_version"] or 0) + 1,
                         supersedes=ctx["current"], payer=ctx["payer"], drg=drg, findings=findings,
                         created_at=created_at)
    graph.write(WRITE_ASSIGNMENTS, rows=[row], release=CODING_RELEASE, run=f"api-{uuid.uuid4().hex[:12]}")
    return CodingAssignmentOut(
        id=assignment_id, encounter=encounter_id, version=(ctx["current_version"] or 0) + 1, status=body.status,
        supersedes=ctx["current"], coder=body.coder, created_at=created_at, drg=drg, findings=findings,
        unsupported_codes=[c.code for c in body.codes if not c.evidence],
    )


def group_assignment(graph: Graph, settings: Settings, encounter: dict[str, Any], patient: dict[str, Any],
                     payer: str | None, body: CodingAssignmentIn, on: date) -> tuple[DrgOutcome | None, dict]:
    """Group the assignment's inpatient codes to an MS-DRG through the DRG service (if loaded)."""
    from graph_service.services import drg as drg_service  # the DRG service owns grouping and weights

    principal = next((c for c in body.codes if c.role is CodeRole.principal), None)
    if principal is None or principal.system != "icd10cm":
        return None, {"drg": "not grouped: no ICD-10-CM principal diagnosis"}
    return drg_service.group_for_assignment(
        graph, settings,
        principal=principal.code,
        secondary=[(c.code, c.poa) for c in sorted(body.codes, key=lambda c: c.sequence)
                   if c.role is CodeRole.secondary and c.system == "icd10cm"],
        procedures=[c.code for c in sorted(body.codes, key=lambda c: c.sequence)
                    if c.role is CodeRole.procedure and c.system == "icd10pcs"],
        age=patient.get("age_years") if patient.get("age_years") is not None else encounter.get("age_years"),
        sex=patient.get("sex"), discharge_status=encounter.get("discharge_status"), discharge_date=on,
        payer=payer,
    )


def assignment_row(encounter_id: str, assignment_id: str, body: CodingAssignmentIn, *, version: int,
                   supersedes: str | None, payer: str | None, drg: DrgOutcome | None, findings: dict[str, Any],
                   created_at: datetime) -> dict[str, Any]:
    """The WRITE_ASSIGNMENTS row of one assignment (used by the service and the bulk loader)."""
    return {
        "encounter": encounter_id, "id": assignment_id, "coder": body.coder.model_dump(mode="json"),
        "status": body.status.value, "created_at": created_at, "version": version, "supersedes": supersedes,
        "payer": payer, "note": body.note, "findings": json.dumps(findings, default=str),
        "drg": drg.model_dump() if drg else {}, "drg_key": f"v{drg.grouper_version}|{drg.drg}" if drg else None,
        "lines": [
            {"key": system(c.system).key(c.code), "role": c.role.value, "sequence": c.sequence, "poa": c.poa,
             "modifiers": c.modifiers, "units": c.units, "evidence": c.evidence}
            for c in body.codes
        ],
    }


def professional_findings(graph: Graph, body: CodingAssignmentIn, payer: str | None, on: date,
                          encounter: dict[str, Any]) -> dict[str, Any]:
    """NCCI edits and payer coverage of the CPT/HCPCS lines, as the coder saw them at assignment time."""
    from graph_service.errors import ServiceError
    from graph_service.models.claim_edits import ClaimEditsIn
    from graph_service.models.coverage import CoverageIn
    from graph_service.services.claim_edits import check_claim
    from graph_service.services.coverage import check_coverage

    lines = [c for c in body.codes if c.system in ("cpt", "hcpcs")]
    if not lines:
        return {}
    diagnoses = [c.code for c in sorted(body.codes, key=lambda c: (c.role is not CodeRole.principal, c.sequence))
                 if c.system == "icd10cm"]
    setting = "outpatient_hospital" if str(encounter.get("class") or "").upper() in ("OBSENC", "EMER", "HH") \
        else "practitioner"
    out: dict[str, Any] = {}
    try:
        edits = check_claim(graph, ClaimEditsIn(lines=[
            {"line_id": f"{c.sequence}", "code": c.code, "modifiers": c.modifiers, "units": c.units,
             "date_of_service": on, "setting": setting} for c in lines]))
        out["claim_edits"] = edits.model_dump(mode="json")
    except ServiceError as exc:
        out["claim_edits"] = f"not checked: {exc.detail}"
    if payer:
        try:
            coverage = check_coverage(graph, CoverageIn(payer=payer, procedures=[c.code for c in lines],
                                                        diagnoses=diagnoses, date_of_service=on))
            out["coverage"] = coverage.model_dump(mode="json")
        except ServiceError as exc:
            out["coverage"] = f"not checked: {exc.detail}"
    return out
