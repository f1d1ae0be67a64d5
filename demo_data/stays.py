"""One synthetic stay: its FHIR resources and coding assignment versions, drawn from its scenario by its own
seeded generator (so any stay can be regenerated alone)."""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from demo_data.scenarios import (
    DISPOSITION_URI,
    DX,
    ENGINES,
    HIP_PROCEDURE,
    HUMANS,
    ICD10CM_URI,
    ICD10PCS_URI,
    LOINC_URI,
    NUBC_URI,
    PAYER_ID_URI,
    PAYERS,
    POA_URL,
    PX,
    RESOURCE_FILES,
    SCENARIOS,
    SNOMED_URI,
    TZ,
    UNSUPPORTED_UPCODES,
    UPWARD_CODER,
    Dx,
    Px,
)


@dataclass
class CodedLine:
    system: str
    code: str
    role: str
    poa: str | None
    evidence: list[str]


@dataclass
class Stay:
    """One generated encounter: its FHIR resources by type and its assignment versions."""

    number: int
    scenario: str
    resources: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {k: [] for k in RESOURCE_FILES})
    assignments: list[dict[str, Any]] = field(default_factory=list)
    revision_kinds: list[str] = field(default_factory=list)


def _ref(kind: str, rid: str) -> dict[str, str]:
    return {"reference": f"{kind}/{rid}"}


def _concept(*codings: tuple[str, str, str], text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [{"system": s, "code": c, "display": d} for s, c, d in codings]}
    if text:
        out["text"] = text
    return out


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([k for k, _ in weighted], [w for _, w in weighted])[0]


def _at(day: date, hour: int, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute), TZ).isoformat()


class StayBuilder:
    """Draws one encounter from its scenario; ``rng`` is the encounter's own generator."""

    def __init__(self, number: int, rng: random.Random, start: date, days: int) -> None:
        self.n = number
        self.rng = rng
        self.scenario = rng.choices(SCENARIOS, [s.weight for s in SCENARIOS])[0]
        self.stay = Stay(number, self.scenario.name)
        self.patient_id = f"pt-{number:07d}"
        self.encounter_id = f"enc-{number:07d}"
        self.los = rng.randint(2, 9)
        self.discharged = start + timedelta(days=rng.randrange(days))
        self.admitted = self.discharged - timedelta(days=self.los)
        self.age = rng.randint(*self.scenario.age)
        self.sex = "female" if rng.random() < 0.52 else "male"
        self.payer = rng.choices(PAYERS, [p[2] for p in PAYERS])[0] if self.age < 65 else PAYERS[0]
        self.evidence: dict[str, list[str]] = {}  # code → evidence ids
        self.conditions: list[tuple[Dx, str]] = []  # (diagnosis, POA)
        self.labs: list[str] = []  # results as the note quotes them

    def add(self, kind: str, resource: dict[str, Any]) -> None:
        self.stay.resources[kind].append(resource)

    def build(self) -> Stay:
        s, rng = self.scenario, self.rng
        principal = DX[rng.choice(s.principal)]
        comorbid = [DX[c] for c, p in s.comorbid if rng.random() < p]
        queried = [DX[c] for c in s.queried if rng.random() < 0.4]  # documented after a query, on this stay
        weak = DX[s.validate_out] if s.validate_out and rng.random() < 0.12 else None
        self._patient_and_coverage()
        self._encounter()
        for dx in (principal, *comorbid, *queried, *([weak] if weak else [])):
            poa = "N" if dx.code == "D62" and principal.code in HIP_PROCEDURE else "Y"  # post-operative
            self._condition(dx, poa, sodium_borderline=dx is weak)
        procedures = [PX[HIP_PROCEDURE[principal.code]]] if principal.code in HIP_PROCEDURE else []
        procedures += [PX[p] for p in s.procedures]
        for k, px in enumerate(procedures):
            self._procedure(k, px)
        self._note(principal, comorbid, queried, weak, procedures)
        self._assignments(principal, comorbid, queried, weak, procedures)
        return self.stay

    def _patient_and_coverage(self) -> None:
        born = date(self.admitted.year - self.age - 1, 1, 1) + timedelta(days=self.rng.randrange(365))
        self.age = self.admitted.year - born.year - ((self.admitted.month, self.admitted.day) < (born.month, born.day))
        self.add("Patient", {"resourceType": "Patient", "id": self.patient_id, "gender": self.sex,
                             "birthDate": born.isoformat()})
        payer_id, name, _ = self.payer
        self.add("Coverage", {
            "resourceType": "Coverage", "id": f"cov-{self.n:07d}", "status": "active", "order": 1,
            "beneficiary": _ref("Patient", self.patient_id),
            "period": {"start": date(self.admitted.year - 2, 1, 1).isoformat()},
            "payor": [{"identifier": {"system": PAYER_ID_URI, "value": payer_id}, "display": name}],
        })

    def _encounter(self) -> None:
        disposition = _pick(self.rng, self.scenario.disposition)
        system = NUBC_URI if disposition.isdigit() else DISPOSITION_URI
        self.disposition = disposition
        self.add("Encounter", {
            "resourceType": "Encounter", "id": self.encounter_id, "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP",
                      "display": "inpatient encounter"},
            "subject": _ref("Patient", self.patient_id),
            "period": {"start": _at(self.admitted, self.rng.randint(0, 23), self.rng.randrange(0, 60, 5)),
                       "end": _at(self.discharged, self.rng.randint(9, 17))},
            "hospitalization": {"dischargeDisposition": {"coding": [{"system": system, "code": disposition}]}},
        })

    def _observation(self, dx: Dx, k: int, borderline: bool = False) -> str:
        assert dx.lab is not None
        loinc, name, unit, low, high, flag = dx.lab
        oid = f"obs-{self.n:07d}-{k}"
        value = round(self.rng.uniform(low, high), 1)
        if borderline:  # a sodium that does not support hyponatremia on review
            value, flag = round(self.rng.uniform(134, 136), 1), "N"
        self.add("Observation", {
            "resourceType": "Observation", "id": oid, "status": "final",
            "code": _concept((LOINC_URI, loinc, name)), "subject": _ref("Patient", self.patient_id),
            "encounter": _ref("Encounter", self.encounter_id),
            "effectiveDateTime": _at(self.admitted + timedelta(days=1), 6),
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
            "interpretation": [_concept(("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                         flag, {"H": "High", "L": "Low", "N": "Normal"}[flag]))],
        })
        self.labs.append(f"{name} {value} {unit}")
        return f"Observation/{oid}#loinc:{loinc}"

    def _condition(self, dx: Dx, poa: str, sodium_borderline: bool = False) -> None:
        k = len(self.conditions)
        cid = f"cond-{self.n:07d}-{k}"
        codings = [(SNOMED_URI, *dx.snomed)] if dx.snomed else []
        codings.append((ICD10CM_URI, dx.code, dx.title))
        self.add("Condition", {
            "resourceType": "Condition", "id": cid,
            "extension": [{"url": POA_URL, "valueCode": poa}],
            "clinicalStatus": _concept(("http://terminology.hl7.org/CodeSystem/condition-clinical", "active",
                                        "Active")),
            "category": [_concept(("http://terminology.hl7.org/CodeSystem/condition-category",
                                   "encounter-diagnosis", "Encounter Diagnosis"))],
            "code": _concept(*codings, text=dx.phrase), "subject": _ref("Patient", self.patient_id),
            "encounter": _ref("Encounter", self.encounter_id),
            "recordedDate": _at(self.discharged, 10),
        })
        evidence = [f"Condition/{cid}#icd10cm:{dx.code}"]
        if dx.lab is not None:
            evidence.append(self._observation(dx, k, borderline=sodium_borderline))
        self.evidence[dx.code] = evidence
        self.conditions.append((dx, poa))

    def _procedure(self, k: int, px: Px) -> None:
        pid = f"proc-{self.n:07d}-{k}"
        self.add("Procedure", {
            "resourceType": "Procedure", "id": pid, "status": "completed",
            "code": _concept((ICD10PCS_URI, px.code, px.title), text=px.phrase),
            "subject": _ref("Patient", self.patient_id), "encounter": _ref("Encounter", self.encounter_id),
            "performedDateTime": _at(self.admitted + timedelta(days=min(1, self.los - 1)), 13),
        })
        self.evidence[px.code] = [f"Procedure/{pid}#icd10pcs:{px.code}"]

    def _note(self, principal: Dx, comorbid: list[Dx], queried: list[Dx], weak: Dx | None,
              procedures: list[Px]) -> None:
        who = "woman" if self.sex == "female" else "man"
        history = ", ".join(d.phrase for d in comorbid if not d.code.startswith(("Z", "W"))) or "no major history"
        course = [f"Admitted with {principal.phrase}"
                  + (f" [SNOMED:{principal.snomed[0]}]." if principal.snomed else ".")]
        course += [f"Treated for {d.phrase} during the stay." for d in comorbid if d.code != "W19.XXXA"]
        course += [f"Course complicated by {d.phrase}, documented after a clinical documentation query."
                   for d in queried]
        course += [f"Mild {weak.phrase} noted on admission."] if weak else []
        course += [f"Underwent {p.phrase} on hospital day {min(2, self.los)}." for p in procedures]
        if self.labs:
            course.append("Labs: " + "; ".join(self.labs) + ".")
        diagnoses = [principal, *queried, *comorbid, *([weak] if weak else [])]
        text = "\n".join([
            "DISCHARGE SUMMARY", f"Admitted {self.admitted.isoformat()}, discharged {self.discharged.isoformat()}.",
            "", "HISTORY OF PRESENT ILLNESS:",
            f"{self.age}-year-old {who} with {history} presented with {self.scenario.complaint}.",
            "", "Hospital Course:", *course,
            "", "Discharge Diagnoses:", *(f"{i}. {d.title}" for i, d in enumerate(diagnoses, start=1)),
            "", "Assessment and Plan:",
            "Discharged in stable condition; follow up with the primary care physician in one week.", "",
        ])
        self.add("DocumentReference", {
            "resourceType": "DocumentReference", "id": f"doc-{self.n:07d}", "status": "current",
            "docStatus": "final", "type": _concept((LOINC_URI, "18842-5", "Discharge summary")),
            "subject": _ref("Patient", self.patient_id), "date": _at(self.discharged, 15),
            "context": {"encounter": [_ref("Encounter", self.encounter_id)]},
            "content": [{"attachment": {"contentType": "text/plain; charset=utf-8",
                                        "data": base64.b64encode(text.encode()).decode()}}],
        })

    # -- coding --------------------------------------------------------------------------------------------
    def _line(self, code: str, role: str, poa: str | None) -> CodedLine:
        system = "icd10pcs" if code in PX else "icd10cm"
        return CodedLine(system, code, role, poa if system == "icd10cm" else None, list(self.evidence.get(code, [])))

    def _assignments(self, principal: Dx, comorbid: list[Dx], queried: list[Dx], weak: Dx | None,
                     procedures: list[Px]) -> None:
        rng, s = self.rng, self.scenario
        poa = {dx.code: p for dx, p in self.conditions}
        secondary = [d.code for d in comorbid] + ([weak.code] if weak else [])
        pdx = principal.code
        # A coder who misreads a sepsis stay sequences the pneumonia or infection first.
        if s.resequence and comorbid and rng.random() < 0.3:
            pdx, secondary = comorbid[0].code, [principal.code] + [c for c in secondary if c != comorbid[0].code]
        first_coder = rng.choices((*ENGINES, *HUMANS), (0.5, 0.2, 0.08, 0.08, 0.07, 0.07))[0]
        version = [self._line(pdx, "principal", poa.get(pdx))]
        version += [self._line(c, "secondary", poa.get(c)) for c in secondary]
        version += [self._line(p.code, "procedure", None) for p in procedures]
        created = datetime.combine(self.discharged + timedelta(days=rng.randint(1, 3)), time(16), UTC)
        self._emit(first_coder, version, created, "initial coding")

        kind = self._revision_kind(pdx != principal.code, queried, weak)
        if kind is None:
            return
        reviser = UPWARD_CODER if kind == "upcode" else rng.choice(HUMANS[:3] if kind != "query_mcc" else HUMANS)
        revised = [CodedLine(x.system, x.code, x.role, x.poa, list(x.evidence)) for x in version]
        note = {"query_mcc": "documentation query answered: {}", "resequence": "principal diagnosis resequenced to {}",
                "validated_out": "{} removed on clinical validation", "upcode": "added {}",
                "minor": "added {}"}[kind]
        if kind == "query_mcc":
            added = queried[0]
            revised.insert(len([x for x in revised if x.role != "procedure"]),
                           self._line(added.code, "secondary", poa[added.code]))
            detail = added.code
        elif kind == "resequence":
            old = revised[0]
            new_pdx = next(x for x in revised if x.code == principal.code)
            revised = [CodedLine(new_pdx.system, new_pdx.code, "principal", new_pdx.poa, new_pdx.evidence)]
            revised += [CodedLine(old.system, old.code, "secondary", old.poa, old.evidence)]
            revised += [x for x in version[1:] if x.code not in (principal.code, old.code)]
            detail = principal.code
        elif kind == "validated_out":
            assert weak is not None
            revised = [x for x in revised if x.code != weak.code]
            detail = weak.code
        elif kind == "upcode":  # an MCC or CC nothing in the record documents
            present = {x.code for x in revised} | set(self.evidence)
            code = rng.choice([c for c in UNSUPPORTED_UPCODES if c not in present] or ["E43"])
            revised.insert(len([x for x in revised if x.role != "procedure"]), self._line(code, "secondary", "Y"))
            detail = f"{code} (no supporting documentation)"
        else:  # minor: a status code that changes nothing in the DRG
            present = {x.code for x in revised}
            code = next((c for c in ("Z79.01", "Z79.4", "E78.5") if c not in present), None)
            if code is None:
                return
            revised.insert(len([x for x in revised if x.role != "procedure"]), self._line(code, "secondary", None))
            detail = code
        created += timedelta(days=rng.randint(4, 20), hours=rng.randint(0, 6))
        self._emit(reviser, revised, created, note.format(detail), kind)
        if kind == "upcode" and rng.random() < 0.15:  # a second-level review takes the unsupported code back
            back = [x for x in revised if x.evidence or x.role != "secondary"]
            self._emit("coder-ava", back, created + timedelta(days=rng.randint(5, 15)),
                       "unsupported code removed on second-level review", "review_removed")

    def _revision_kind(self, misordered: bool, queried: list[Dx], weak: Dx | None) -> str | None:
        rng = self.rng
        if misordered and rng.random() < 0.8:
            return "resequence"
        if queried and rng.random() < 0.75:
            return "query_mcc"
        if weak is not None and rng.random() < 0.6:
            return "validated_out"
        roll = rng.random()
        if roll < 0.09:
            return "upcode"
        return "minor" if roll < 0.12 else None

    def _emit(self, coder: str, lines: list[CodedLine], created: datetime, note: str, kind: str = "initial") -> None:
        diagnoses = [x for x in lines if x.role != "procedure"]
        procedures = [x for x in lines if x.role == "procedure"]
        codes = [{"system": x.system, "code": x.code, "role": x.role, "sequence": i, "poa": x.poa,
                  "evidence": x.evidence} for i, x in enumerate(diagnoses, start=1)]
        codes += [{"system": x.system, "code": x.code, "role": x.role, "sequence": i, "evidence": x.evidence}
                  for i, x in enumerate(procedures, start=1)]
        version = len(self.stay.assignments) + 1
        self.stay.assignments.append({
            "encounter": self.encounter_id, "version": version,
            "assignment": {"coder": {"id": coder, "kind": "engine" if coder in ENGINES else "human"},
                           "status": "final" if version == 1 else "amended", "created_at": created.isoformat(),
                           "codes": codes, "note": note},
        })
        if version > 1:
            self.stay.revision_kinds.append(f"{coder}:{kind}")


def generate_stay(seed: int, number: int, start: date, days: int) -> Stay:
    """Encounter ``number`` of the data set ``seed``: the same every time, whatever else is generated."""
    return StayBuilder(number, random.Random(f"codegraph-{seed}-{number}"), start, days).build()
