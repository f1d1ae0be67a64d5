"""Seeded synthetic inpatient encounters as FHIR R4 NDJSON, with coding assignments and their revisions.

``codegraph demo generate --encounters N --seed S --out DIR`` writes

    DIR/fhir/part-00000/{Patient,Coverage,Encounter,Condition,Procedure,Observation,DocumentReference}.ndjson …
    DIR/assignments.ndjson   one {"encounter", "version", "assignment"} per line, all version 1 lines first
    DIR/manifest.json        seed, counts, coders and revision kinds

Each stay follows a clinical scenario (heart failure with or without CKD, diabetes, AKI or respiratory
failure; pneumonia and sepsis; NSTEMI/STEMI with a drug-eluting stent; COPD exacerbation; femoral neck
fracture with hemiarthroplasty; GI bleeding; ischemic stroke) coded with real FY2026 ICD-10-CM and
ICD-10-PCS codes. Conditions also carry SNOMED CT codings where the project's SNOMED fixture has the
concept, so their findings map through the fixture's extended map. The discharge summary names every
documented condition in its sections.

Every encounter gets a version-1 final assignment (mostly by a coding engine). A share are revised —
an MCC added after a documentation query, the principal diagnosis resequenced, a CC removed on clinical
validation — and one coder (``coder-cruz``) revises upward far more often than peers, often adding a code
no documentation supports. Assigned codes cite the evidence ids the FHIR loader builds from the resource
ids (``Condition/<id>#icd10cm:<code>``, ``Observation/<id>#loinc:<code>``).

Output is streamed shard by shard and each encounter is drawn from its own seeded generator, so 100k
encounters take memory for one shard only and any encounter can be regenerated alone.
"""

from __future__ import annotations

import base64
import json
import random
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import IO, Any

ICD10CM_URI = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10PCS_URI = "http://www.cms.gov/Medicare/Coding/ICD10"
SNOMED_URI = "http://snomed.info/sct"
LOINC_URI = "http://loinc.org"
POA_URL = "https://codegraph.example/fhir/StructureDefinition/condition-present-on-admission"
DISPOSITION_URI = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
NUBC_URI = "https://www.nubc.org/CodeSystem/PatDischargeStatus"
PAYER_ID_URI = "https://codegraph.example/payer-id"
RESOURCE_FILES = ("Patient", "Coverage", "Encounter", "Condition", "Procedure", "Observation", "DocumentReference")
SHARD_SIZE = 250  # encounters per NDJSON directory: the FHIR parser's cost per shard grows with its square
TZ = timezone(timedelta(hours=-5))

PAYERS = (("MEDICARE-A", "Medicare Part A (synthetic)", 0.55), ("BCBS-PPO", "Synthetic Blue Plan PPO", 0.30),
          ("MEDICAID-MCO", "Synthetic Medicaid Managed Care", 0.15))
ENGINES = ("engine-acme-3.2", "engine-nova-1.0")
HUMANS = ("coder-ava", "coder-ben", "coder-dana", "coder-cruz")
UPWARD_CODER = "coder-cruz"


@dataclass(frozen=True)
class Dx:
    """A diagnosis as it is documented: ICD-10-CM code and title, SNOMED CT concept, the words of the note."""

    code: str
    title: str
    phrase: str  # how the physician writes it; code.text of the Condition
    snomed: tuple[str, str] | None = None  # (concept id, term) from tests/fixtures/snomed only
    lab: tuple[str, str, str, float, float, str] | None = None  # LOINC, name, unit, low, high, flag


@dataclass(frozen=True)
class Px:
    code: str
    title: str
    phrase: str


def _dx(code: str, title: str, phrase: str, snomed: tuple[str, str] | None = None,
        lab: tuple[str, str, str, float, float, str] | None = None) -> Dx:
    return Dx(code, title, phrase, snomed, lab)


CHF = ("42343007", "Congestive heart failure")
DX = {d.code: d for d in (
    _dx("I50.23", "Acute on chronic systolic (congestive) heart failure", "acute on chronic systolic heart failure",
        CHF, ("33762-6", "NT-proBNP", "pg/mL", 4200, 15000, "H")),
    _dx("I50.33", "Acute on chronic diastolic (congestive) heart failure", "acute on chronic diastolic heart failure",
        CHF, ("33762-6", "NT-proBNP", "pg/mL", 2500, 9000, "H")),
    _dx("I50.21", "Acute systolic (congestive) heart failure", "acute systolic heart failure",
        ("85232009", "Left heart failure"), ("10230-1", "Left ventricular ejection fraction", "%", 15, 35, "L")),
    _dx("I13.0", "Hypertensive heart and chronic kidney disease with heart failure and stage 1 through stage 4 "
        "chronic kidney disease, or unspecified chronic kidney disease", "hypertensive heart and kidney disease",
        ("38341003", "Hypertension")),
    _dx("N18.30", "Chronic kidney disease, stage 3 unspecified", "chronic kidney disease stage 3",
        ("709044004", "Chronic kidney disease")),
    _dx("N18.4", "Chronic kidney disease, stage 4 (severe)", "chronic kidney disease stage 4",
        ("709044004", "Chronic kidney disease")),
    _dx("E11.22", "Type 2 diabetes mellitus with diabetic chronic kidney disease", "diabetic kidney disease",
        ("44054006", "Type 2 diabetes mellitus")),
    _dx("E11.9", "Type 2 diabetes mellitus without complications", "type 2 diabetes",
        ("44054006", "Type 2 diabetes mellitus"), ("2345-7", "Glucose", "mg/dL", 140, 260, "H")),
    _dx("I10", "Essential (primary) hypertension", "essential hypertension", ("59621000", "Essential hypertension")),
    _dx("N17.9", "Acute kidney failure, unspecified", "acute kidney injury", None,
        ("2160-0", "Creatinine", "mg/dL", 2.1, 4.5, "H")),
    _dx("J96.01", "Acute respiratory failure with hypoxia", "acute hypoxic respiratory failure", None,
        ("59408-5", "Oxygen saturation by pulse oximetry", "%", 78, 87, "L")),
    _dx("J18.9", "Pneumonia, unspecified organism", "community-acquired pneumonia", ("233604007", "Pneumonia"),
        ("6690-2", "Leukocytes", "10*3/uL", 13, 22, "H")),
    _dx("A41.9", "Sepsis, unspecified organism", "sepsis", ("91302008", "Sepsis"),
        ("2524-7", "Lactate", "mmol/L", 2.4, 5.8, "H")),
    _dx("R65.20", "Severe sepsis without septic shock", "severe sepsis with organ dysfunction"),
    _dx("N39.0", "Urinary tract infection, site not specified", "urinary tract infection"),
    _dx("E87.1", "Hypo-osmolality and hyponatremia", "hyponatremia", None,
        ("2951-2", "Sodium", "mmol/L", 128, 133, "L")),
    _dx("I21.4", "Non-ST elevation (NSTEMI) myocardial infarction", "NSTEMI",
        ("57054005", "Acute myocardial infarction"),
        ("89579-7", "Troponin I, high sensitivity", "ng/L", 180, 4000, "H")),
    _dx("I21.09", "ST elevation (STEMI) myocardial infarction involving other coronary artery of anterior wall",
        "anterior STEMI", ("57054005", "Acute myocardial infarction"),
        ("89579-7", "Troponin I, high sensitivity", "ng/L", 900, 25000, "H")),
    _dx("I25.10", "Atherosclerotic heart disease of native coronary artery without angina pectoris",
        "coronary artery disease"),
    _dx("E78.5", "Hyperlipidemia, unspecified", "hyperlipidemia"),
    _dx("J44.1", "Chronic obstructive pulmonary disease with (acute) exacerbation", "COPD exacerbation",
        ("13645005", "Chronic obstructive lung disease"), ("2019-8", "Carbon dioxide partial pressure", "mm[Hg]",
                                                          48, 70, "H")),
    _dx("S72.001A", "Fracture of unspecified part of neck of right femur, initial encounter for closed fracture",
        "right femoral neck fracture"),
    _dx("S72.002A", "Fracture of unspecified part of neck of left femur, initial encounter for closed fracture",
        "left femoral neck fracture"),
    _dx("W19.XXXA", "Unspecified fall, initial encounter", "mechanical fall at home"),
    _dx("D62", "Acute posthemorrhagic anemia", "acute blood loss anemia", ("271737000", "Anemia"),
        ("718-7", "Hemoglobin", "g/dL", 6.4, 8.4, "L")),
    _dx("K92.2", "Gastrointestinal hemorrhage, unspecified", "upper gastrointestinal bleeding", None,
        ("718-7", "Hemoglobin", "g/dL", 6.8, 9.2, "L")),
    _dx("K25.4", "Chronic or unspecified gastric ulcer with hemorrhage", "bleeding gastric ulcer"),
    _dx("I63.9", "Cerebral infarction, unspecified", "acute ischemic stroke"),
    _dx("I63.512", "Cerebral infarction due to unspecified occlusion or stenosis of left middle cerebral artery",
        "left middle cerebral artery stroke"),
    _dx("G81.91", "Hemiplegia, unspecified affecting right dominant side", "right hemiplegia"),
    _dx("R47.01", "Aphasia", "expressive aphasia"),
    _dx("I48.91", "Unspecified atrial fibrillation", "atrial fibrillation"),
    _dx("F32.A", "Depression, unspecified", "depression", ("35489007", "Depressive disorder")),
    _dx("E43", "Unspecified severe protein-calorie malnutrition", "severe protein-calorie malnutrition"),
    _dx("Z79.01", "Long term (current) use of anticoagulants", "long-term anticoagulation"),
    _dx("Z79.4", "Long term (current) use of insulin", "insulin use"),
)}
PX = {p.code: p for p in (
    Px("027034Z", "Dilation of Coronary Artery, One Artery with Drug-eluting Intraluminal Device, Percutaneous "
       "Approach", "percutaneous coronary intervention with a drug-eluting stent"),
    Px("0SRR019", "Replacement of Right Hip Joint, Femoral Surface with Metal Synthetic Substitute, Cemented, Open "
       "Approach", "right hip hemiarthroplasty"),
    Px("0SRS019", "Replacement of Left Hip Joint, Femoral Surface with Metal Synthetic Substitute, Cemented, Open "
       "Approach", "left hip hemiarthroplasty"),
    Px("0DJ08ZZ", "Inspection of Upper Intestinal Tract, Via Natural or Artificial Opening Endoscopic",
       "upper endoscopy"),
    Px("30233N1", "Transfusion of Nonautologous Red Blood Cells into Peripheral Vein, Percutaneous Approach",
       "red blood cell transfusion"),
)}
# Codes the upward coder adds without documentation (each an MCC or CC in MS-DRG v43).
UNSUPPORTED_UPCODES = ("E43", "J96.01", "N17.9", "R65.20")


@dataclass(frozen=True)
class Scenario:
    name: str
    weight: float
    principal: tuple[str, ...]  # one is drawn
    comorbid: tuple[tuple[str, float], ...]  # (code, probability) documented and coded at once
    queried: tuple[str, ...] = ()  # a severity code documented only after a query: v1 misses it
    procedures: tuple[str, ...] = ()  # all performed
    complaint: str = ""
    disposition: tuple[tuple[str, float], ...] = (("home", 0.8), ("06", 0.15), ("snf", 0.05))
    age: tuple[int, int] = (55, 92)
    resequence: str | None = None  # a secondary diagnosis that should have been principal (sepsis)
    validate_out: str | None = None  # a CC weakly supported, removed on clinical validation


SCENARIOS = (
    Scenario("heart failure", 0.24, ("I50.23", "I50.33", "I50.21"),
             (("E11.9", 0.35), ("I10", 0.5), ("N18.30", 0.25), ("I48.91", 0.2), ("Z79.01", 0.15), ("E78.5", 0.4)),
             queried=("J96.01",), complaint="worsening dyspnea, orthopnea and leg swelling",
             validate_out="E87.1"),
    Scenario("hypertensive heart and kidney disease", 0.08, ("I13.0",),
             (("N18.30", 0.6), ("E11.22", 0.5), ("E78.5", 0.3), ("Z79.4", 0.2)), queried=("N17.9",),
             complaint="dyspnea, edema and rising creatinine"),
    Scenario("pneumonia", 0.16, ("J18.9",), (("I10", 0.4), ("E11.9", 0.25), ("F32.A", 0.1), ("E78.5", 0.3)),
             queried=("J96.01",), complaint="fever, productive cough and pleuritic chest pain",
             validate_out="E87.1"),
    Scenario("sepsis", 0.10, ("A41.9",), (("N39.0", 0.6), ("I10", 0.4), ("E11.9", 0.3)),
             queried=("R65.20",), complaint="fever, rigors and hypotension",
             disposition=(("home", 0.6), ("06", 0.15), ("snf", 0.15), ("exp", 0.1)), resequence="A41.9"),
    Scenario("NSTEMI with PCI", 0.08, ("I21.4",), (("I25.10", 0.8), ("E78.5", 0.7), ("I10", 0.6), ("E11.9", 0.2)),
             queried=("J96.01",), procedures=("027034Z",), complaint="substernal chest pressure at rest",
             age=(45, 85)),
    Scenario("STEMI with PCI", 0.04, ("I21.09",), (("E78.5", 0.6), ("I10", 0.5)), procedures=("027034Z",),
             complaint="crushing chest pain with anterior ST elevation", age=(42, 80)),
    Scenario("COPD exacerbation", 0.10, ("J44.1",), (("I10", 0.5), ("F32.A", 0.15), ("E78.5", 0.2)),
             queried=("J96.01",), complaint="increased dyspnea, wheeze and sputum", validate_out="E87.1"),
    Scenario("hip fracture with hemiarthroplasty", 0.08, ("S72.001A", "S72.002A"),
             (("W19.XXXA", 1.0), ("I10", 0.6), ("F32.A", 0.1)), queried=("D62",),
             complaint="hip pain after a fall", disposition=(("snf", 0.7), ("rehab", 0.2), ("home", 0.1)),
             age=(68, 97)),
    Scenario("GI bleeding", 0.06, ("K92.2", "K25.4"), (("I10", 0.5), ("Z79.01", 0.3), ("I48.91", 0.3)),
             queried=("D62",), procedures=("0DJ08ZZ", "30233N1"), complaint="melena and lightheadedness"),
    Scenario("ischemic stroke", 0.06, ("I63.9", "I63.512"),
             (("I10", 0.7), ("I48.91", 0.35), ("E78.5", 0.5), ("R47.01", 0.3)), queried=("G81.91",),
             complaint="sudden right-sided weakness and word-finding difficulty",
             disposition=(("home", 0.4), ("rehab", 0.3), ("snf", 0.3))),
)
HIP_PROCEDURE = {"S72.001A": "0SRR019", "S72.002A": "0SRS019"}


# ---- one encounter --------------------------------------------------------------------------------------
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


# ---- the data set ------------------------------------------------------------------------------------------
@dataclass
class GenerationSummary:
    out: Path
    encounters: int
    shards: int
    assignments_by_version: dict[int, int]
    scenarios: dict[str, int]
    revisions: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "encounters": self.encounters, "shards": self.shards,
                "assignments_by_version": self.assignments_by_version, "scenarios": self.scenarios,
                "revisions": self.revisions}


def stays(seed: int, count: int, start: date, end: date, first: int = 1) -> Iterator[Stay]:
    days = (end - start).days + 1
    for number in range(first, first + count):
        yield generate_stay(seed, number, start, days)


def write_fhir_shard(directory: Path, shard: list[Stay]) -> None:
    """One NDJSON directory holding the stays' resources, a file per resource type."""
    directory.mkdir(parents=True, exist_ok=True)
    for kind in RESOURCE_FILES:
        with (directory / f"{kind}.ndjson").open("w") as handle:
            handle.writelines(json.dumps(r, separators=(",", ":")) + "\n"
                              for stay in shard for r in stay.resources[kind])


def generate(out: Path, *, encounters: int, seed: int, start: date = date(2025, 10, 1),
             end: date = date(2026, 9, 30), shard_size: int = SHARD_SIZE, first_number: int = 1) -> GenerationSummary:
    """Write ``encounters`` stays discharged between ``start`` and ``end`` under ``out`` (replacing it).

    ``first_number`` is the number of the first stay: a data set grows by generating the next numbers (stay ``n`` is
    the same whatever else is generated)."""
    if encounters < 1:
        raise ValueError("at least one encounter")
    if end < start:
        raise ValueError("end before start")
    if out.exists():
        shutil.rmtree(out / "fhir", ignore_errors=True)
    (out / "fhir").mkdir(parents=True, exist_ok=True)
    later = out / ".later-versions"
    later.mkdir(exist_ok=True)
    by_version: Counter[int] = Counter()
    scenarios: Counter[str] = Counter()
    revisions: Counter[str] = Counter()
    shards = 0
    with ExitStack() as stack:
        first = stack.enter_context((out / "assignments.ndjson").open("w"))
        later_files: dict[int, IO[str]] = {}
        shard: list[Stay] = []
        for stay in stays(seed, encounters, start, end, first_number):
            shard.append(stay)
            scenarios[stay.scenario] += 1
            revisions.update(stay.revision_kinds)
            for line in stay.assignments:
                v = line["version"]
                by_version[v] += 1
                target = first if v == 1 else later_files.get(v)
                if target is None:
                    target = later_files[v] = stack.enter_context((later / f"v{v}.ndjson").open("w"))
                target.write(json.dumps(line, separators=(",", ":")) + "\n")
            if len(shard) == shard_size:
                write_fhir_shard(out / "fhir" / f"part-{shards:05d}", shard)
                shards, shard = shards + 1, []
        if shard:
            write_fhir_shard(out / "fhir" / f"part-{shards:05d}", shard)
            shards += 1
        for v in sorted(later_files):  # version order: every superseded assignment precedes its successor
            later_files[v].close()
            with (later / f"v{v}.ndjson").open() as src:
                shutil.copyfileobj(src, first)
    shutil.rmtree(later)
    summary = GenerationSummary(out, encounters, shards, dict(sorted(by_version.items())), dict(scenarios),
                                dict(sorted(revisions.items())))
    manifest = {"seed": seed, "start": start.isoformat(), "end": end.isoformat(), **summary.as_dict(),
                "coders": {"engines": list(ENGINES), "humans": list(HUMANS), "upward": UPWARD_CODER},
                "load": [f"codegraph load fhir {out / 'fhir'} --release synthetic-{seed}",
                         f"codegraph load coding {out / 'assignments.ndjson'} --release synthetic-{seed}"]}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return summary

