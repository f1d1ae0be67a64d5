"""Evaluate a proposed coding assignment against every rule family the graph holds, in one call.

``evaluate(graph, settings, body)`` composes the existing services — code-set validation, the Medicare Code
Editor, NCCI PTP/MUE, coverage, SNOMED CT derivation, procedure maps, MS-DRG grouping — into findings, each
naming its rule node and the guideline sections of its check (``rules``), then into four verdicts (valid,
compliant, supported, optimal), the history of similar encounters and one overall answer (``verdict``).
For an inline encounter without SNOMED CT evidence and without history, everything is answered from the
release data held in memory.
"""

from __future__ import annotations

from codegraph.settings import Settings
from graph_service.graph import Graph
from graph_service.models.evaluation import EvaluateIn, EvaluationOut
from graph_service.services.evaluation import diagnoses, procedures
from graph_service.services.evaluation.case import build_case
from graph_service.services.evaluation.findings import Findings
from graph_service.services.evaluation.history import similar_history
from graph_service.services.evaluation.optimal import check_optimal
from graph_service.services.evaluation.procedure_maps import map_procedures, procedure_maps
from graph_service.services.evaluation.rules import rules_for
from graph_service.services.evaluation.stored import assignment_body, store_evaluation
from graph_service.services.evaluation.supported import check_support, documented
from graph_service.services.evaluation.trusted import trusted
from graph_service.services.evaluation.verdict import overall, recommendations, verdict

__all__ = ["evaluate", "evaluate_assignment"]

FAMILIES = ("valid", "compliant", "supported", "optimal")


def evaluate(graph: Graph, settings: Settings, body: EvaluateIn) -> EvaluationOut:
    case = build_case(graph, body)
    rules = rules_for(graph, case.encounter.discharge_date)
    found = Findings(rules)

    checked = diagnoses.validate(graph, case)
    diagnoses.check_valid(checked, found)
    diagnoses.check_notes(checked, found)
    diagnoses.check_mce(case, found)
    diagnoses.check_poa(case, found)

    procedure_evidence = [x for x in case.evidence.values() if x.kind == "procedure" and x.snomed]
    mapped, undecided = map_procedures(procedure_maps(graph), procedure_evidence) if procedure_evidence else ([], [])
    edits = procedures.claim_edits(graph, case)
    if edits is not None:
        procedures.check_ptp(edits, found)
        procedures.check_mue(edits, found)
        case.notes += edits.notes
    procedures.check_modifiers(case, mapped, found)
    procedures.check_coverage_of_lines(graph, case, found)

    docs = documented(graph, case, mapped, found)
    check_support(case, docs, undecided, found)
    drg = check_optimal(graph, settings, case, docs, found)

    history = None
    if body.include_history:
        history = similar_history(graph, principal=case.principal.code, drg=drg.drg if drg else None,
                                  payer=case.encounter.payer, exclude=case.encounter_id)
    verdicts = {family: verdict(items) for family, items in found.by_family(FAMILIES).items()}
    answer, reasons = overall(verdicts)  # type: ignore[arg-type]
    releases = dict(checked.releases)
    if rules.table is not None:
        releases["coding_rules"] = rules.table.release
    if drg is not None:
        releases["msdrg"] = drg.release
    for used in edits.releases if edits else []:
        releases.update({k: v for k, v in (("ncci_ptp", used.ncci_ptp), ("ncci_mue", used.ncci_mue)) if v})
    return trusted(
        EvaluationOut, overall=answer, reasons=reasons, valid=verdicts["valid"], compliant=verdicts["compliant"],  # type: ignore[arg-type]
        supported=verdicts["supported"], optimal=verdicts["optimal"], drg=drg, history=history,
        recommendations=recommendations(found.items), releases=releases, notes=[*rules.notes, *case.notes],
        encounter_id=case.encounter_id, assignment_id=None, evaluation_id=None,
    )


def evaluate_assignment(graph: Graph, settings: Settings, encounter_id: str, assignment: str, *,
                        store: bool = False) -> EvaluationOut:
    """Evaluate a stored assignment (``assignment`` is its id, or the part after ``<encounter>/``); with
    ``store`` the evaluation is kept as a node linked to the assignment and every rule node it cites."""
    assignment_id = assignment if "/" in assignment else f"{encounter_id}/{assignment}"
    out = evaluate(graph, settings, assignment_body(graph, encounter_id, assignment_id))
    out.assignment_id = assignment_id
    if store:
        out.evaluation_id = store_evaluation(graph, assignment_id, out)
    return out
