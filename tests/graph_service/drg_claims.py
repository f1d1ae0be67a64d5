"""Realistic inpatient claims for the MS-DRG tests, and the FY2026 MS-DRG load they share.

Each case is a ``/v1/drg/group`` body with the DRG a coder expects (``None`` where only the comparison with
msdrg is checked). Discharge dates are spread over FY2026 so both grouper v43.0 (October-March) and the
April update v43.1 are used. The load helper keeps the real FY2026 load to one per graph: the loader and the
API test modules both call it, and it only wipes and loads when the release is not already there whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from neo4j import Driver

from codegraph.settings import Settings
from loaders.bundled import bundled_datasets
from ontology.vocabulary import L, R

FY2026 = "msdrg@FY2026"
WINTER, SPRING, SUMMER = "2025-11-14", "2026-04-20", "2026-08-03"  # v43.0, v43.1, v43.1


@dataclass(frozen=True)
class DrgCase:
    name: str
    body: dict[str, Any]
    expect_drg: str | None = None

    @property
    def id(self) -> str:
        return self.name


def case(name: str, pdx: str, sdx: list[tuple[str, str | None]] | None = None, procs: list[str] | None = None, *,
         age: int = 72, sex: str = "M", status: int = 1, when: str = WINTER, expect: str | None = None) -> DrgCase:
    body = {
        "principal_dx": pdx, "principal_poa": "Y",
        "secondary_dx": [{"code": c, "poa": p} for c, p in (sdx or [])],
        "procedures": procs or [], "age": age, "sex": sex, "discharge_status": status, "discharge_date": when,
    }
    return DrgCase(name, body, expect)


CLAIMS: list[DrgCase] = [
    # heart failure and shock 291-293
    case("hf_without_cc", "I50.23", [("E11.9", "Y"), ("E78.5", "Y")], expect="293"),
    case("hf_with_cc_hyponatremia", "I50.9", [("E87.1", "Y")], when=SPRING, expect="292"),
    case("hf_with_mcc_resp_failure", "I50.23", [("J96.01", "Y"), ("E11.65", "Y")], expect="291"),
    case("hf_cc_excluded_by_own_principal", "I50.23", [("I50.22", "Y")], expect="293"),
    case("hf_excluded_cc_and_counted_cc", "I50.33", [("I50.32", "Y"), ("N17.9", "Y")], when=SUMMER, expect="292"),
    case("hf_alive_only_mcc_discharged_alive", "I50.23", [("I46.9", "Y")], expect="291"),
    case("hf_alive_only_mcc_expired", "I50.23", [("I46.9", "Y")], status=20, expect="293"),
    case("hf_unknown_sex", "I50.9", sex="U", expect="293"),
    case("hf_with_unrelated_hip_replacement", "I50.23", [], ["0SR9019"], expect="983"),
    case("hf_hac_pressure_ulcer_not_poa", "I50.23", [("L89.153", "N")], expect="293"),
    case("hf_hac_pressure_ulcer_poa", "I50.23", [("L89.153", "Y")], expect="291"),
    # sepsis 870-872
    case("sepsis_without_mcc", "A41.9", expect="872"),
    case("sepsis_cc_only", "A41.9", [("N17.9", "Y")], when=SPRING, expect="872"),
    case("sepsis_severe_sepsis_code_excluded", "A41.9", [("R65.20", "Y")], expect="872"),
    case("sepsis_with_mcc_atn", "A41.9", [("N17.0", "Y"), ("E87.1", "Y")], expect="871"),
    case("sepsis_with_mcc_resp_failure", "A41.9", [("J96.01", "Y")], when=SUMMER, expect="871"),
    case("sepsis_with_mv_over_96h", "A41.9", [("J96.01", "Y")], ["5A1955Z"], expect="870"),
    # acute myocardial infarction 280-285, PCI 321-322
    case("ami_pci_drug_eluting_stent", "I21.09", [], ["027034Z"], expect="322"),
    case("ami_pci_with_mcc", "I21.4", [("J96.01", "Y")], ["027034Z"], when=SPRING, expect="321"),
    case("ami_pci_cc_only", "I21.4", [("E87.1", "Y")], ["027034Z"], expect="322"),
    case("nstemi_medical_alive", "I21.4", expect="282"),
    case("nstemi_with_cc", "I21.4", [("E87.1", "Y")], expect="281"),
    case("nstemi_alive_only_mcc_alive", "I21.4", [("I46.9", "Y")], expect="280"),
    case("nstemi_alive_only_mcc_expired", "I21.4", [("I46.9", "Y")], status=20, expect="285"),
    case("nstemi_mcc_expired", "I21.4", [("J96.01", "Y")], status=20, when=SUMMER, expect="283"),
    case("stemi_second_ami_code_excluded", "I21.01", [("I21.02", "Y")], expect="282"),
    # orthopaedic surgery
    case("hip_replacement_osteoarthritis", "M16.11", [], ["0SR9019"], age=66, sex="F", expect="470"),
    case("knee_replacement_osteoarthritis", "M17.11", [("E66.01", "Y")], ["0SRD0J9"], age=68, sex="F",
         when=SPRING, expect="470"),
    case("hip_fracture_replacement", "S72.001A", [], ["0SR9019"], age=84, sex="F", expect="522"),
    case("hip_fracture_replacement_with_mcc", "S72.001A", [("J96.01", "Y")], ["0SR9019"], age=84, sex="F",
         expect="521"),
    case("hip_fracture_no_surgery", "S72.001A", age=85, sex="F", expect="536"),
    # general surgery
    case("laparoscopic_cholecystectomy", "K80.00", [], ["0FT44ZZ"], age=50, sex="F", expect="419"),
    case("appendectomy", "K35.80", [], ["0DTJ4ZZ"], age=30, expect="399"),
    # pneumonia and respiratory infections
    case("pneumonia_simple", "J18.9", expect="195"),
    case("pneumonia_with_cc", "J18.9", [("E87.1", "Y")], when=SUMMER, expect="194"),
    case("pneumonia_with_mcc", "J18.9", [("J96.01", "Y")], expect="193"),
    case("aspiration_pneumonia_with_mcc", "J69.0", [("J96.01", "Y")], age=80, expect="177"),
    case("covid_pneumonia", "U07.1", [("J12.82", "Y")], expect="177"),
    # COPD 190-192
    case("copd_exacerbation", "J44.1", expect="192"),
    case("copd_with_cc", "J44.1", [("E87.1", "Y")], expect="191"),
    case("copd_with_resp_failure", "J44.1", [("J96.01", "Y")], when=SPRING, expect="190"),
    case("copd_with_lower_respiratory_infection", "J44.0", [("J18.9", "Y")], expect="190"),
    # GI bleed 377-379
    case("gi_bleed", "K92.2", expect="379"),
    case("gi_bleed_with_anemia_cc", "K92.2", [("D62", "Y")], expect="378"),
    case("gi_bleed_with_shock_mcc", "K92.2", [("R57.1", "Y")], when=SUMMER, expect="377"),
    # stroke 061-066
    case("stroke", "I63.9", expect="066"),
    case("stroke_with_cc", "I63.9", [("E87.1", "Y")], expect="065"),
    case("stroke_with_mcc", "I63.9", [("J96.01", "Y")], expect="064"),
    case("stroke_with_thrombolytic", "I63.9", [], ["3E03317"], when=SPRING, expect="063"),
    # renal, metabolic, other medical
    case("aki_mcc_excluded_by_principal", "N17.9", [("N17.0", "Y")], expect="684"),
    case("uti", "N39.0", age=81, sex="F", expect="690"),
    case("diabetes_hyperglycemia", "E11.65", age=50, expect="639"),
    case("pulmonary_embolism", "I26.99", age=60, sex="F", expect="176"),
    case("syncope", "R55", sex="F", expect="312"),
    case("chest_pain", "R07.9", age=50, expect="313"),
    case("cellulitis", "L03.115", age=50, expect="603"),
    case("major_depression", "F32.2", age=40, sex="F", expect="885"),
    case("alcohol_withdrawal", "F10.230", age=40, when=SUMMER, expect="897"),
    # obstetrics, newborn, paediatric, age and sex edges
    case("vaginal_delivery", "O80", [("Z37.0", "Y")], ["10E0XZZ"], age=28, sex="F", expect="807"),
    case("delivery_without_outcome_code", "O80", [], ["10E0XZZ"], age=28, sex="F", expect="998"),
    case("normal_newborn", "Z38.00", age=0, sex="F", expect="795"),
    case("paediatric_asthma", "J45.901", age=8, sex="F", expect="203"),
    case("prostate_hyperplasia_male", "N40.0", age=70, expect="726"),
    case("prostate_dx_on_female_claim", "N40.0", age=70, sex="F", expect="726"),
    case("oldest_age", "I50.9", age=124, expect="293"),
    # claims the grouper cannot group
    case("invalid_principal_category_header", "I50", [("J96.01", "Y")], expect="999"),
    case("external_cause_as_principal", "V00.01XA", expect="999"),
    case("hac_code_without_poa", "I50.23", [("L89.153", None)], expect="999"),
]


# ---- the shared FY2026 load ------------------------------------------------------------------------
def _intact(driver: Driver, database: str) -> dict[str, Any] | None:
    records, _, _ = driver.execute_query(
        f"""
        MATCH (r:{L.Release} {{id: $release, status: 'visible'}})-[:{R.PRODUCED_BY}]->(run:{L.LoadRun})
        WHERE run.status = 'completed'
        RETURN run.counts AS counts,
               COUNT {{ (:{L.MSDRG})-[:{R.IN_RELEASE}]->(r) }} AS drgs,
               COUNT {{ ()-[:{R.IN_COLLECTION} {{release: $release}}]->() }} AS members
        """,
        release=FY2026, database_=database,
    )
    if not records or records[0]["drgs"] != 772 or records[0]["members"] != 180_403:
        return None
    return json.loads(records[0]["counts"])


def ensure_msdrg_fy2026(driver: Driver, settings: Settings) -> dict[str, Any]:
    """The FY2026 load's counts; wipes the graph and loads the bundled tables only if they are not there."""
    from loaders.registry import load_source
    from tests.conftest import wipe_graph

    counts = _intact(driver, settings.neo4j_database)
    if counts is not None:
        return counts
    wipe_graph(driver, settings.neo4j_database)
    [dataset] = [d for d in bundled_datasets() if d.source == "msdrg"]
    report = load_source(driver, settings, "msdrg", list(dataset.paths), dataset.version)
    return {**report.counts, "wall_seconds": report.seconds}
