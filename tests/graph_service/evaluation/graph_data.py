"""The graph the evaluation tests share: a small ICD-10-CM FY2026 tabular (real codes, notes in the CMS layout),
ICD-10-PCS and CPT 2026 code lists with neutral text, the bundled NCCI 2026Q1 samples and MS-DRG FY2026 tables,
the bundled coding rules and the ConceptMap fixture."""

from __future__ import annotations

from pathlib import Path

from neo4j import Driver

from codegraph.settings import Settings
from loaders.bundled import bundled_datasets
from loaders.registry import load_source
from loaders.rules.records import BUNDLED as RULES_FILE
from tests.conftest import wipe_graph

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CONCEPT_MAP = FIXTURES / "conceptmap" / "snomed-procedure-to-billing.json"


def _diag(code: str, title: str, *children: str, notes: str = "") -> str:
    return f"<diag><name>{code}</name><desc>{title}</desc>{notes}{''.join(children)}</diag>"


def _chapter(number: int, desc: str, first: str, last: str, section_desc: str, *diags: str) -> str:
    sid = f"{first}-{last}"
    return (f"<chapter><name>{number}</name><desc>{desc}</desc><sectionIndex><sectionRef first=\"{first}\" "
            f"last=\"{last}\" id=\"{sid}\">{section_desc}</sectionRef></sectionIndex><section id=\"{sid}\">"
            f"<desc>{section_desc} ({sid})</desc>{''.join(diags)}</section></chapter>")


TABULAR = ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ICD10CM.tabular><version>2026</version>" + "".join([
    _chapter(4, "Endocrine, nutritional and metabolic diseases (E00-E89)", "E08", "E13", "Diabetes mellitus",
             _diag("E10", "Type 1 diabetes mellitus", _diag("E10.9", "Type 1 diabetes mellitus without complications"),
                   notes="<excludes1><note>type 2 diabetes mellitus (E11.-)</note></excludes1>"),
             _diag("E11", "Type 2 diabetes mellitus", _diag("E11.9", "Type 2 diabetes mellitus without complications"),
                   notes="<excludes1><note>type 1 diabetes mellitus (E10.-)</note></excludes1><useAdditionalCode>"
                         "<note>code to identify control using insulin (Z79.4)</note></useAdditionalCode>")),
    # A manifestation (code first its underlying condition) and a condition that meets the note.
    _chapter(5, "Mental, Behavioral and Neurodevelopmental disorders (F01-F99)", "F01", "F09",
             "Mental disorders due to known physiological conditions",
             _diag("F02", "Dementia in other diseases classified elsewhere", _diag(
                 "F02.8", "Dementia in other diseases classified elsewhere, unspecified severity", _diag(
                     "F02.80", "Dementia in other diseases classified elsewhere, unspecified severity, without "
                               "behavioral disturbance (fixture text)")),
                   notes="<codeFirst><note>the underlying physiological condition, such as Alzheimer's disease "
                         "(G30.-)</note></codeFirst>")),
    _chapter(6, "Diseases of the nervous system (G00-G99)", "G30", "G32", "Other degenerative diseases of the "
             "nervous system", _diag("G30", "Alzheimer's disease", _diag("G30.9", "Alzheimer's disease, "
                                                                                 "unspecified (fixture text)"))),
    _chapter(9, "Diseases of the circulatory system (I00-I99)", "I10", "I1A", "Hypertensive diseases",
             _diag("I10", "Essential (primary) hypertension")),
    _chapter(10, "Diseases of the respiratory system (J00-J99)", "J09", "J18", "Influenza and pneumonia",
             _diag("J18", "Pneumonia, unspecified organism", _diag("J18.9", "Pneumonia, unspecified organism"))),
    _chapter(10, "Diseases of the respiratory system (J00-J99)", "J96", "J99", "Other diseases of the respiratory "
             "system", _diag("J96", "Respiratory failure, not elsewhere classified", _diag(
                 "J96.0", "Acute respiratory failure", _diag("J96.00", "Acute respiratory failure, unspecified"),
                 _diag("J96.01", "Acute respiratory failure with hypoxia")))),
    _chapter(13, "Diseases of the musculoskeletal system and connective tissue (M00-M99)", "M15", "M19",
             "Osteoarthritis", _diag("M17", "Osteoarthritis of knee", _diag(
                 "M17.1", "Unilateral primary osteoarthritis of knee",
                 _diag("M17.11", "Unilateral primary osteoarthritis, right knee"),
                 _diag("M17.12", "Unilateral primary osteoarthritis, left knee")))),
    _chapter(14, "Diseases of the genitourinary system (N00-N99)", "N40", "N53", "Diseases of male genital organs",
             _diag("N40", "Benign prostatic hyperplasia",
                   _diag("N40.0", "Benign prostatic hyperplasia without lower urinary tract symptoms"))),
    _chapter(21, "Factors influencing health status and contact with health services (Z00-Z99)", "Z77", "Z99",
             "Persons with potential health hazards related to history",
             _diag("Z79", "Long term (current) drug therapy", _diag("Z79.4", "Long term (current) use of insulin"))),
]) + "</ICD10CM.tabular>\n")

PCS = {"0SBC4ZZ": "Excision of right knee joint, endoscopic (fixture text)",
       "0SBD4ZZ": "Excision of left knee joint, endoscopic (fixture text)"}
CPT = ("99213", "36415", "29881", "29877")


EXPECTED = sorted(["icd10cm@FY2026", "icd10pcs@FY2026", "cpt@2026", "ncci_ptp@2026Q1", "ncci_mue@2026Q1",
                   "msdrg@FY2026", "coding_rules@FY2026", "procedure_maps@2026"])


def _loaded(driver: Driver, settings: Settings) -> bool:
    """The graph holds exactly these releases, visible, and no encounter (left by an earlier run of this module),
    and the newest code of the tabular above (a graph loaded from an older version of it is reloaded)."""
    records, _, _ = driver.execute_query(
        "MATCH (r:Release) WITH collect(r.id + ':' + r.status) AS releases "
        "RETURN releases, COUNT { MATCH (:Encounter) } AS encounters, "
        "COUNT { MATCH (:Code {key: $newest}) } AS newest", newest="icd10cm|F02.80",
        database_=settings.neo4j_database)
    row = records[0]
    return (sorted(row["releases"]) == [f"{r}:visible" for r in EXPECTED] and row["encounters"] == 0
            and row["newest"] == 1)


def load_evaluation_graph(driver: Driver, settings: Settings, work: Path) -> None:
    if _loaded(driver, settings):
        return
    wipe_graph(driver, settings.neo4j_database)
    tabular = work / "icd10cm-tabular-2026-evaluation-sample.xml"
    tabular.write_text(TABULAR)
    load_source(driver, settings, "icd10cm", [tabular], "FY2026")
    pcs = work / "icd10pcs-codes-2026.txt"
    pcs.write_text("".join(f"{c} {t}\n" for c, t in PCS.items()))
    load_source(driver, settings, "icd10pcs", [pcs], "FY2026")
    cpt = work / "LONGULT.txt"
    cpt.write_text("".join(f"{c}\tProcedure {c} (placeholder text, not the AMA descriptor)\n" for c in CPT))
    load_source(driver, settings, "cpt", [cpt], "2026")
    for ds in bundled_datasets():
        if ds.source in ("ncci_ptp", "ncci_mue", "msdrg"):
            load_source(driver, settings, ds.source, list(ds.paths), ds.version)
    load_source(driver, settings, "coding_rules", [RULES_FILE], "FY2026")
    load_source(driver, settings, "procedure_maps", [CONCEPT_MAP], "2026")
