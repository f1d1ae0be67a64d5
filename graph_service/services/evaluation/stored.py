"""Evaluations of stored coding assignments, and the Evaluation node a final or amended assignment keeps::

    (:Evaluation {id, overall, verdicts, findings (JSON), created_at})-[:EVALUATES]->(:CodingAssignment)
    (:Evaluation)-[:CITES {finding, family, check}]->(rule node)   every rule node a finding names
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from graph_service.errors import NotFound, Unprocessable
from graph_service.graph import Graph
from graph_service.models.evaluation import (
    DiagnosisIn,
    EvaluateIn,
    EvaluationOut,
    LineIn,
    ProcedureIn,
    ProposedCodes,
)
from ontology.vocabulary import L, R

CODING_RELEASE = "coding@live"  # evaluations are transactional data, stamped like assignments

ASSIGNMENT = f"""
MATCH (:{L.Encounter} {{id: $encounter}})-[:{R.HAS_ASSIGNMENT}]->(a:{L.CodingAssignment} {{id: $assignment}})
CALL (a) {{
  MATCH (a)-[:{R.HAS_CODE}]->(ac:{L.AssignedCode})
  RETURN collect(ac {{.role, .sequence, .poa, .modifiers, .units, .code, .system,
                     evidence: [(ac)-[:{R.SUPPORTED_BY}]->(x:{L.Evidence}) | x.id]}}) AS codes
}}
RETURN a.status AS status, codes
"""

# Rule nodes a finding can cite, by label: the key property each is found by. Labels are the ontology's names.
CITABLE = {L.Guideline: "key", L.RuleCheck: "key", L.ModifierRule: "key", L.MUE: "key", L.MSDRG: "key",
           L.SeverityDesignation: "key", L.PDXExclusionCollection: "key", L.PolicyRule: "key", L.MapRule: "id",
           L.ProcedureMap: "key", L.Code: "key"}

WRITE = f"""
MATCH (a:{L.CodingAssignment} {{id: $assignment}})
CREATE (ev:{L.Evaluation} {{id: $id, overall: $overall, verdicts: $verdicts, findings: $findings,
        drg: $drg, created_at: $created_at, load_run: $run}})
CREATE (ev)-[:{R.EVALUATES} {{release: $release, load_run: $run}}]->(a)
WITH ev
""" + "\n".join(f"""CALL (ev) {{
  UNWIND $cites['{label}'] AS c
  MATCH (n:{label} {{{prop}: c.key}})
  CREATE (ev)-[:{R.CITES} {{release: $release, load_run: $run, finding: c.finding, family: c.family,
          check: c.check, rule: c.rule}}]->(n)
}}""" for label, prop in CITABLE.items()) + "\nRETURN ev.id AS id"


def assignment_body(graph: Graph, encounter_id: str, assignment_id: str) -> EvaluateIn:
    """The stored assignment as an evaluation request on its encounter."""
    row = graph.read_one(ASSIGNMENT, encounter=encounter_id, assignment=assignment_id)
    if row is None:
        raise NotFound(f"no coding assignment {assignment_id!r} of encounter {encounter_id!r}")
    codes = sorted(row["codes"], key=lambda c: (c["role"], c["sequence"]))
    principal = [c for c in codes if c["role"] == "principal" and c["system"] == "icd10cm"]
    if not principal:
        raise Unprocessable(f"assignment {assignment_id} has no ICD-10-CM principal diagnosis to evaluate")

    def dx(c: dict[str, Any]) -> DiagnosisIn:
        return DiagnosisIn(code=c["code"], poa=c.get("poa"), evidence=c["evidence"])

    return EvaluateIn(encounter_id=encounter_id, codes=ProposedCodes(
        principal=dx(principal[0]),
        secondary=[dx(c) for c in codes if c["role"] == "secondary" and c["system"] == "icd10cm"],
        procedures=[ProcedureIn(code=c["code"], evidence=c["evidence"]) for c in codes if c["system"] == "icd10pcs"],
        lines=[LineIn(line_id=str(c["sequence"]), code=c["code"], modifiers=c.get("modifiers") or [],
                      units=c.get("units") or 1, evidence=c["evidence"])
               for c in codes if c["system"] in ("cpt", "hcpcs")],
    ))


def _cites(out: EvaluationOut) -> dict[str, list[dict[str, Any]]]:
    cites: dict[str, list[dict[str, Any]]] = defaultdict(list)
    seen: set[tuple[str, str, int]] = set()
    findings = [f for v in (out.valid, out.compliant, out.supported, out.optimal) for f in v.findings]
    for i, f in enumerate(findings):
        refs = [f.rule, *f.cited]
        nodes = [(r.label, r.id, r.id) for r in refs if r.label in CITABLE]
        if f.check_node:
            nodes.append((L.RuleCheck, f.check_node, f.check_node))
        nodes += [(L.Guideline, g.node, g.node) for g in f.guidelines]
        if f.rule.kind == "NCCI PTP row":  # a row is an edge: cite its column-2 code, the row named on the edge
            nodes.append((L.Code, f"{'hcpcs' if f.codes[1][0].isalpha() else 'cpt'}|{f.codes[1]}", f.rule.id))
        for label, key, rule in nodes:
            if (label, key, i) not in seen:
                seen.add((label, key, i))
                cites[label].append({"key": key, "finding": i, "family": f.family, "check": f.check, "rule": rule})
    return {label: cites.get(label, []) for label in CITABLE}


def store_evaluation(graph: Graph, assignment_id: str, out: EvaluationOut) -> str:
    evaluation_id = f"{assignment_id}/E-{uuid.uuid4().hex[:8]}"
    verdicts = {"overall": out.overall, **{f: getattr(out, f).status
                                           for f in ("valid", "compliant", "supported", "optimal")}}
    graph.write(WRITE, assignment=assignment_id, id=evaluation_id, overall=out.overall,
                verdicts=json.dumps(verdicts), findings=out.model_dump_json(), drg=out.drg.drg if out.drg else None,
                created_at=datetime.now(UTC), run=f"api-eval-{uuid.uuid4().hex[:12]}", release=CODING_RELEASE,
                cites=_cites(out))
    return evaluation_id
