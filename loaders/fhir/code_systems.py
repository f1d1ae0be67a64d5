"""The code systems a FHIR coding may use here, and whether a code has the shape its system gives codes.

Whether a code exists is not decided here: that is the graph's job (see ``CodeToCheck``).
"""

from __future__ import annotations

import re
from functools import lru_cache

from loaders.icd10cm.codes import DOTTED_CODE as ICD10CM_DOTTED
from loaders.icd10pcs.code_lists import PCS_CODE

SYSTEM_NAMES: dict[str, str] = {
    "http://hl7.org/fhir/sid/icd-10-cm": "icd10cm",
    "http://www.cms.gov/Medicare/Coding/ICD10": "icd10pcs",
    "http://www.ama-assn.org/go/cpt": "cpt",
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets": "hcpcs",
    "http://snomed.info/sct": "snomed",
    "http://loinc.org": "loinc",
}
SYSTEM_URIS: dict[str, str] = {name: uri for uri, name in SYSTEM_NAMES.items()}
SYSTEM_LABELS: dict[str, str] = {
    "icd10cm": "ICD-10-CM",
    "icd10pcs": "ICD-10-PCS",
    "cpt": "CPT",
    "hcpcs": "HCPCS",
    "snomed": "SNOMED CT",
    "loinc": "LOINC",
}

_CPT = re.compile(r"\d{4}[0-9FTU]")  # Category I (5 digits), II (…F), III (…T), PLA (…U)
_HCPCS = re.compile(r"[A-V]\d{4}")  # Level II
_SCTID = re.compile(r"[1-9]\d{5,17}")
_LOINC = re.compile(r"(\d{1,7})-(\d)")
# SCTID partition identifier (2 digits before the check digit): concept/description/relationship, short or long form.
_SCTID_PARTITIONS = frozenset({"00", "01", "02", "10", "11", "12"})

# Verhoeff tables: multiplication in the dihedral group D5, the position permutation and the inverse.
_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_VERHOEFF_INV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)


def verhoeff_check_digit(digits: str) -> int:
    """The Verhoeff check digit to append to ``digits`` (SNOMED CT identifiers end with one)."""
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[(i + 1) % 8][int(ch)]]
    return _VERHOEFF_INV[c]


def verhoeff_valid(number: str) -> bool:
    """Whether the last digit of ``number`` is the Verhoeff check digit of the others."""
    return number.isdigit() and len(number) > 1 and verhoeff_check_digit(number[:-1]) == int(number[-1])


def loinc_check_digit(digits: str) -> int:
    """LOINC's mod-10 check digit (the Luhn scheme, as the LOINC user guide describes it)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d // 10 + d % 10
    return (10 - total % 10) % 10


def _looks_like(code: str) -> str | None:
    """A guess at which system ``code`` belongs to, to make a wrong-system message useful."""
    if _LOINC.fullmatch(code):
        return "loinc"
    if _SCTID.fullmatch(code) and verhoeff_valid(code):
        return "snomed"
    if _CPT.fullmatch(code):
        return "cpt"
    if _HCPCS.fullmatch(code):
        return "hcpcs"
    if ICD10CM_DOTTED.fullmatch(code):
        return "icd10cm"
    if PCS_CODE.fullmatch(code):
        return "icd10pcs"
    return None


# A source names the same few thousand codes over and over; the SNOMED and LOINC check digits are pure-Python loops.
@lru_cache(maxsize=1 << 16)
def code_shape_problem(system_name: str, code: str) -> str | None:
    """Why ``code`` cannot be a code of ``system_name`` by its shape alone, or None when it can."""
    problem = _shape_problem(system_name, code)
    if problem is None:
        return None
    guess = _looks_like(code)
    return f"{problem}; it looks like {SYSTEM_LABELS[guess]}" if guess and guess != system_name else problem


def _shape_problem(system_name: str, code: str) -> str | None:
    match system_name:
        case "icd10cm":
            ok = ICD10CM_DOTTED.fullmatch(code) is not None
            return None if ok else "an ICD-10-CM code: a letter, 2 characters, then '.' and 1-4 more (e.g. I50.23)"
        case "icd10pcs":
            return None if PCS_CODE.fullmatch(code) else "an ICD-10-PCS code: 7 characters of 0-9 and A-Z without I, O"
        case "cpt":
            return None if _CPT.fullmatch(code) else "a CPT code: 4 digits then a digit or F, T, U"
        case "hcpcs":
            return None if _HCPCS.fullmatch(code) else "an HCPCS Level II code: a letter A-V then 4 digits"
        case "snomed":
            if not _SCTID.fullmatch(code):
                return "a SNOMED CT identifier: 6-18 digits, no leading zero"
            if not verhoeff_valid(code):
                check = verhoeff_check_digit(code[:-1])
                return f"a SNOMED CT identifier ending in its Verhoeff check digit ({check} here)"
            if code[-3:-1] not in _SCTID_PARTITIONS:
                return "a SNOMED CT identifier with a known partition identifier (digits 2-3 from the end)"
            return None
        case "loinc":
            m = _LOINC.fullmatch(code)
            if not m:
                return "a LOINC code: digits, '-', a check digit (e.g. 2160-0)"
            if loinc_check_digit(m[1]) != int(m[2]):
                return f"a LOINC code ending in its mod-10 check digit ({loinc_check_digit(m[1])} here)"
            return None
    raise ValueError(f"unknown system name {system_name!r}")
