"""Pairing HCPCS groups with covered ICD-10 groups: only from explicit statements, never guessed."""

from __future__ import annotations

import pytest

from loaders.coverage.mcd_pairing import pair_code_groups
from loaders.coverage.mcd_records import McdCodeGroup, McdDiagnosisCode, McdProcedureCode


def hcpc(group: int, text: str = "") -> McdCodeGroup:
    return McdCodeGroup(1, 1, "hcpc", group, text, "")


def icd(group: int, text: str = "") -> McdCodeGroup:
    return McdCodeGroup(1, 1, "covered", group, text, "")


def proc(group: int, code: str) -> McdProcedureCode:
    return McdProcedureCode(1, 1, group, code, "")


def dx(group: int, code: str, kind: str = "covered") -> McdDiagnosisCode:
    return McdDiagnosisCode(1, 1, kind, group, code, False, None, "")  # type: ignore[arg-type]


TWO_BY_TWO_CODES = [proc(1, "93306"), proc(1, "93307"), proc(2, "93312")]
TWO_BY_TWO_DX = [dx(1, "I50.9"), dx(2, "I33.0")]


def test_one_group_each_pairs_whatever_the_paragraphs_say() -> None:
    result = pair_code_groups([hcpc(1, "anything"), icd(1, "see Group 3")], [proc(1, "93306")], [dx(1, "I50.9")])
    assert (result.status, result.pairs) == ("paired", ((1, 1),))


def test_icd_paragraphs_naming_cpt_groups_pair_them() -> None:
    groups = [hcpc(1), hcpc(2),
              icd(1, "The following ICD-10-CM codes support medical necessity for the HCPCS codes in Group 1."),
              icd(2, "Group 2 Codes: for CPT codes listed in Group 2")]
    result = pair_code_groups(groups, TWO_BY_TWO_CODES, TWO_BY_TWO_DX)
    assert (result.status, result.pairs) == ("paired", ((1, 1), (2, 2)))


def test_one_icd_group_may_name_several_cpt_groups() -> None:
    groups = [hcpc(1), hcpc(2), icd(1, "Covered for the CPT/HCPCS codes in Groups 1 and 2.")]
    result = pair_code_groups(groups, TWO_BY_TWO_CODES, [dx(1, "I50.9")])
    assert result.pairs == ((1, 1), (2, 1))


def test_hcpc_paragraph_naming_icd_group_pairs_it() -> None:
    groups = [hcpc(1, "Bill with the ICD-10-CM codes in Group 1."), hcpc(2, "Group 2 ICD-10 codes apply."),
              icd(1), icd(2)]
    assert pair_code_groups(groups, TWO_BY_TWO_CODES, TWO_BY_TWO_DX).pairs == ((1, 1), (2, 2))


def test_listing_every_code_of_a_group_pairs_it_but_part_of_one_does_not() -> None:
    whole = [hcpc(1), hcpc(2), icd(1, "Supports CPT codes 93306 and 93307."), icd(2, "for CPT code 93312")]
    assert pair_code_groups(whole, TWO_BY_TWO_CODES, TWO_BY_TWO_DX).pairs == ((1, 1), (2, 2))
    part = [hcpc(1), hcpc(2), icd(1, "Supports CPT code 93306."), icd(2, "for CPT code 93312")]
    result = pair_code_groups(part, TWO_BY_TWO_CODES, TWO_BY_TWO_DX)
    assert result.status == "needs_review" and "part of HCPCS group 1" in result.reason


def test_silent_paragraph_with_several_groups_needs_review() -> None:
    groups = [hcpc(1), icd(1, "Primary codes."), icd(2, "Secondary codes.")]
    result = pair_code_groups(groups, [proc(1, "93306")], TWO_BY_TWO_DX)
    assert (result.status, result.pairs) == ("needs_review", ())
    assert "[1, 2]" in result.reason


def test_bare_group_mention_needs_review_even_when_others_are_explicit() -> None:
    groups = [hcpc(1), hcpc(2), icd(1, "For CPT codes in Group 1."),
              icd(2, "For CPT codes in Group 2; bill with a code from Group 1.")]
    result = pair_code_groups(groups, TWO_BY_TWO_CODES, TWO_BY_TWO_DX)
    assert result.status == "needs_review" and "'group 1'" in result.reason


def test_reference_to_a_missing_group_needs_review() -> None:
    groups = [hcpc(1), hcpc(2), icd(1, "For CPT codes in Group 1."), icd(2, "For CPT codes in Group 3.")]
    result = pair_code_groups(groups, TWO_BY_TWO_CODES, TWO_BY_TWO_DX)
    assert result.status == "needs_review" and "[3]" in result.reason


def test_article_without_covered_list_has_nothing_to_pair() -> None:
    result = pair_code_groups([hcpc(1)], [proc(1, "93306")], [dx(1, "Z00.00", "noncovered")])
    assert (result.status, result.pairs) == ("paired", ())


def test_codes_of_two_articles_are_refused() -> None:
    other = McdProcedureCode(2, 1, 1, "93306", "")
    with pytest.raises(ValueError, match="one article version"):
        pair_code_groups([hcpc(1)], [proc(1, "93306"), other])
