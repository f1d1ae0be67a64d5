"""The code systems the graph knows: id, node label, display name, FHIR URI, code normalisation."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from ontology.vocabulary import L

_CHAPTER = re.compile(r"(?:CHAPTER|CH)\s*0*(\d{1,2})", re.IGNORECASE)
_ICD10CM_CODE = re.compile(r"[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}")


# Pure and called for every code of every request (validation keys, the grouper's dotted form): memoised.
@lru_cache(maxsize=1 << 16)
def _icd10cm(code: str) -> str:
    """Codes are stored dotted (A00.0), sections as ranges (A00-A09), chapters as CH01..CH22."""
    c = code.strip().upper()
    if m := _CHAPTER.fullmatch(c):
        return f"CH{int(m.group(1)):02d}"
    bare = c.replace(".", "")
    if _ICD10CM_CODE.fullmatch(bare):
        return bare if len(bare) <= 3 else f"{bare[:3]}.{bare[3:]}"
    return c


def _upper(code: str) -> str:
    return code.strip().upper()


@dataclass(frozen=True)
class CodeSystem:
    id: str
    label: str
    name: str
    fhir_uri: str | None
    pattern: re.Pattern[str]
    normalise: Callable[[str], str]
    hierarchical: bool = True
    release_system: str | None = None  # the system whose releases carry these codes, if not its own

    @property
    def releases_of(self) -> str:
        return self.release_system or self.id

    def key(self, code: str) -> str:
        return f"{self.id}|{self.normalise(code)}"

    def accepts(self, code: str) -> bool:
        return bool(self.pattern.fullmatch(self.normalise(code)))


SYSTEMS: dict[str, CodeSystem] = {
    s.id: s
    for s in (
        CodeSystem("icd10cm", L.ICD10CMCode, "ICD-10-CM", "http://hl7.org/fhir/sid/icd-10-cm",
                   re.compile(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?|[A-Z][0-9][0-9A-Z]-[A-Z][0-9][0-9A-Z]|CH\d{2}"),
                   _icd10cm),
        CodeSystem("icd10pcs", L.ICD10PCSCode, "ICD-10-PCS", "http://www.cms.gov/Medicare/Coding/ICD10",
                   re.compile(r"[0-9A-HJ-NP-Z]{1,3}|[0-9A-HJ-NP-Z]{7}"), _upper),
        CodeSystem("cpt", L.CPTCode, "CPT", "http://www.ama-assn.org/go/cpt",
                   re.compile(r"[0-9]{5}|[0-9]{4}[FTU]"), _upper, hierarchical=False),
        CodeSystem("hcpcs", L.HCPCSCode, "HCPCS Level II",
                   "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                   re.compile(r"[A-V][0-9]{4}"), _upper, hierarchical=False),
        CodeSystem("modifier", L.Modifier, "CPT/HCPCS modifiers", None,
                   re.compile(r"[0-9A-Z]{2}"), _upper, hierarchical=False, release_system="hcpcs"),
        CodeSystem("snomed", L.SnomedConcept, "SNOMED CT", "http://snomed.info/sct",
                   re.compile(r"[1-9][0-9]{5,17}"), str.strip),
    )
}


def system(system_id: str) -> CodeSystem:
    try:
        return SYSTEMS[system_id.lower()]
    except KeyError:
        raise KeyError(f"unknown code system {system_id!r}; known: {sorted(SYSTEMS)}") from None
