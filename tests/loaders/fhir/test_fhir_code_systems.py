"""Code system URIs and code shapes: Verhoeff for SNOMED CT, mod-10 for LOINC, and wrong-system hints."""

from __future__ import annotations

import pytest

from loaders.fhir.code_systems import (
    SYSTEM_NAMES,
    code_shape_problem,
    loinc_check_digit,
    verhoeff_check_digit,
    verhoeff_valid,
)


@pytest.mark.parametrize("sctid", ["42343007", "44054006", "709044004", "233604007", "40617009", "39607008"])
def test_real_snomed_ids_pass_the_verhoeff_check(sctid: str) -> None:
    assert verhoeff_valid(sctid)
    assert code_shape_problem("snomed", sctid) is None


def test_verhoeff_catches_a_single_wrong_digit_and_a_transposition() -> None:
    assert verhoeff_check_digit("4234300") == 7
    assert not verhoeff_valid("42343008")
    assert not verhoeff_valid("24343007")  # first two digits swapped


def test_snomed_message_names_the_check_digit_it_expected() -> None:
    assert "(7 here)" in (code_shape_problem("snomed", "42343008") or "")
    assert "6-18 digits" in (code_shape_problem("snomed", "0423430") or "")


@pytest.mark.parametrize("loinc", ["2160-0", "33762-6", "2345-7", "18842-5", "10230-1"])
def test_real_loinc_codes_pass_the_mod10_check(loinc: str) -> None:
    assert code_shape_problem("loinc", loinc) is None


def test_loinc_with_wrong_check_digit_is_refused() -> None:
    assert loinc_check_digit("2160") == 0
    assert "(0 here)" in (code_shape_problem("loinc", "2160-1") or "")


def test_pcs_code_under_icd10cm_is_refused_and_recognised_as_pcs() -> None:
    problem = code_shape_problem("icd10cm", "5A1955Z")
    assert problem is not None and problem.endswith("it looks like ICD-10-PCS")


def test_icd10cm_codes_must_carry_their_dot() -> None:
    assert code_shape_problem("icd10cm", "I50.23") is None
    assert code_shape_problem("icd10cm", "N18.30") is None
    assert code_shape_problem("icd10cm", "I5023") is not None


def test_cm_code_under_pcs_cpt_or_hcpcs_is_refused() -> None:
    assert "looks like ICD-10-CM" in (code_shape_problem("icd10pcs", "I50.23") or "")
    assert "looks like HCPCS" in (code_shape_problem("cpt", "G0444") or "")
    assert "looks like CPT" in (code_shape_problem("hcpcs", "99214") or "")


def test_cpt_accepts_category_ii_iii_and_pla_suffixes() -> None:
    assert all(code_shape_problem("cpt", c) is None for c in ("99214", "93306", "1036F", "0075T", "0001U"))


def test_the_six_known_system_uris() -> None:
    assert SYSTEM_NAMES == {
        "http://hl7.org/fhir/sid/icd-10-cm": "icd10cm",
        "http://www.cms.gov/Medicare/Coding/ICD10": "icd10pcs",
        "http://www.ama-assn.org/go/cpt": "cpt",
        "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets": "hcpcs",
        "http://snomed.info/sct": "snomed",
        "http://loinc.org": "loinc",
    }
