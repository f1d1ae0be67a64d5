"""The clinical scenarios synthetic stays are drawn from: real FY2026 ICD-10-CM/PCS codes with their SNOMED CT
findings, weights, payers and coders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, timezone

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
