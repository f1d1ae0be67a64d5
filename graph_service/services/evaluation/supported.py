"""The supported family: every code linked to evidence of the encounter, codes without evidence, and documented
conditions and procedures whose codes are not coded. What each statement documents comes from its codes, the
SNOMED CT → ICD-10-CM map (the derivation service) and the procedure maps (ConceptMap)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from graph_service.graph import Graph
from graph_service.models.derivation import AgeIn, DeriveIcd10cmIn
from graph_service.models.derivation import PatientIn as DerivePatient
from graph_service.models.evaluation import RuleRef
from graph_service.services.derivation import derive_icd10cm
from graph_service.services.drg_grouper import dotted
from graph_service.services.evaluation.case import Case
from graph_service.services.evaluation.findings import Findings
from graph_service.services.evaluation.procedure_maps import MappedProcedure, UndecidedProcedure
from ontology.vocabulary import L

DIAGNOSIS_KINDS = ("condition", "finding", "observation")


@dataclass
class Documented:
    """What the encounter's evidence documents: code (system:code) → evidence ids, and the rule behind each."""

    codes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    via: dict[str, RuleRef] = field(default_factory=dict)
    poa: dict[str, str] = field(default_factory=dict)  # dotted ICD-10-CM → POA documented

    def add(self, key: str, evidence: str, via: RuleRef | None = None, poa: str | None = None) -> None:
        ids = self.codes[key]
        if evidence not in ids:
            ids.append(evidence)
        if via is not None:
            self.via.setdefault(key, via)
        if poa and key.startswith("icd10cm:"):
            self.poa.setdefault(key[8:], poa)  # the dotted code after "icd10cm:"

    def diagnoses(self) -> list[str]:
        return [k.split(":", 1)[1] for k in self.codes if k.startswith("icd10cm:")]


def documented(graph: Graph, case: Case, mapped: list[MappedProcedure], found: Findings) -> Documented:
    docs = Documented()
    for x in case.evidence.values():
        for c in x.codes:
            code = dotted(c.code) if c.system == "icd10cm" else c.code.strip().upper()
            docs.add(f"{c.system}:{code}", x.id, poa=x.poa)
    for mp in mapped:
        docs.add(f"{mp.map.system}:{mp.map.code}", mp.evidence, mp.map.ref())
    by_concept: dict[str, list[str]] = defaultdict(list)
    for x in case.evidence.values():
        if x.kind in DIAGNOSIS_KINDS:
            for concept in x.snomed:
                by_concept[concept].append(x.id)
    if by_concept and graph.reference.catalog().of("snomed"):
        e = case.encounter
        out = derive_icd10cm(graph, DeriveIcd10cmIn(
            concepts=sorted(by_concept), patient=DerivePatient(age=AgeIn(value=e.age, unit="years"), sex=e.sex),
            date=e.discharge_date))
        for concept in out.concepts:
            for group in concept.groups:
                ids = by_concept[concept.concept]
                if group.status == "mapped" and group.code is not None:
                    ref = RuleRef(id=group.map_rule or concept.concept, kind="MapRule", label=L.MapRule,
                                  release=out.release, detail={"concept": concept.concept, "group": group.group})
                    for xid in ids:
                        docs.add(f"icd10cm:{dotted(group.code.code)}", xid, ref, case.evidence[xid].poa)
                elif group.status == "needs_review":
                    found.add("supported", "uncoded_evidence", "info",
                              f"SNOMED CT {concept.concept} (evidence {', '.join(ids)}), map group {group.group}: "
                              f"{group.reason}", evidence=ids, needs_review=group.reason or "map rule undecided")
    return docs


def check_support(case: Case, docs: Documented, undecided: list[UndecidedProcedure], found: Findings) -> None:
    coded: list[tuple[str, str, list[str], str | None]] = [  # key, shown code, evidence listed, line id
        *((f"icd10cm:{code}", code, d.evidence, None) for code, d in zip(case.dx_codes(), case.diagnoses,
                                                                         strict=True)),
        *((f"icd10pcs:{p.code}", p.code, p.evidence, None) for p in case.procedures),
        *((f"{'hcpcs' if ln.code[0].isalpha() else 'cpt'}:{ln.code}", ln.code, ln.evidence, ln.line_id)
          for ln in case.lines),
    ]
    for key, code, listed, line in coded:
        lines = [line] if line else []
        unknown = [x for x in listed if x not in case.evidence]
        if unknown:
            found.add("supported", "evidence_for_code", "error",
                      f"{code} cites evidence that is not the encounter's: {', '.join(unknown)}.", codes=[code],
                      lines=lines, evidence=unknown)
        documenting = docs.codes.get(key, [])
        stated = [x for x in listed if x in documenting]
        if stated:
            continue
        if documenting:
            found.add("supported", "evidence_for_code", "info",
                      f"{code} is documented by {', '.join(documenting)}"
                      + (" (not the evidence the assignment cites)" if listed else " (not cited by the assignment)")
                      + ".", rule=docs.via.get(key), codes=[code], lines=lines, evidence=documenting)
        elif listed and not unknown:
            found.add("supported", "evidence_for_code", "warning",
                      f"{code}: the cited evidence ({', '.join(listed)}) does not state this code, nor does any "
                      f"map from it.", codes=[code], lines=lines, evidence=listed,
                      needs_review="whether the cited documentation supports the code")
        else:
            found.add("supported", "evidence_for_code", "warning",
                      f"{code} has no supporting evidence in the encounter.", codes=[code], lines=lines)
    coded_keys = {key for key, *_ in coded}
    # Procedure systems this claim reports: ICD-10-PCS for an inpatient stay, CPT/HCPCS when it bills lines.
    systems = {"icd10cm", *(("icd10pcs",) if case.inpatient else ()), *(("cpt", "hcpcs") if case.lines or
                                                                       not case.inpatient else ())}
    for key, ids in docs.codes.items():
        system, code = key.split(":", 1)
        if key in coded_keys or system not in systems:
            continue
        what = "condition" if system == "icd10cm" else "procedure"
        found.add("supported", "uncoded_evidence", "warning",
                  f"the documented {what} {code} (evidence {', '.join(ids)}) is not coded.", rule=docs.via.get(key),
                  codes=[code], evidence=ids)
    for u in undecided:
        found.add("supported", "uncoded_evidence", "info", f"procedure {u.concept} (evidence {u.evidence}): {u.why}.",
                  evidence=[u.evidence], needs_review=u.why)
