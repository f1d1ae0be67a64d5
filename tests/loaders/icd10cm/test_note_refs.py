"""Code references in tabular notes: real note texts from the FY2026 April tabular XML."""

from __future__ import annotations

import pytest

from loaders.icd10cm.note_refs import (
    NoteReference,
    code_sort_key,
    extract_note_references,
    in_range,
    reference_matches,
)

CASES = [
    ("bacterial foodborne intoxications, NEC (A05.-)", [NoteReference("under", "A05")]),
    ("effects of foreign body in nose (T17.0-T17.1)", [NoteReference("range", "T17.0", "T17.1")]),
    (
        "complications of pregnancy, childbirth and the puerperium (O00-O9A)",
        [NoteReference("range", "O00", "O9A")],
    ),
    (
        "malignant neoplasm of auricular canal (external) (C43.2-,C44.2-)",
        [NoteReference("under", "C43.2"), NoteReference("under", "C44.2")],
    ),
    (
        "drug dependence and related mental and behavioral disorders due to psychoactive substance use (F10.--F19.-)",
        [NoteReference("range", "F10", "F19")],
    ),
    ("vitamin B12 deficiency anemia (D51.-)", [NoteReference("under", "D51")]),
    (
        "glucose-6-phosphate dehydrogenase (G6PD) deficiency without anemia (D75.A)",
        [NoteReference("code", "D75.A")],
    ),
    ("rheumatic fever with heart involvement (I01.0 -I01.9)", [NoteReference("range", "I01.0", "I01.9")]),
    ("head injury (S00 - S09)", [NoteReference("range", "S00", "S09")]),
    (
        "personal history of intraepithelial neoplasia III of female genital tract (Z86.001, Z86.008, Z86.00A)",
        [NoteReference("code", "Z86.001"), NoteReference("code", "Z86.008"), NoteReference("code", "Z86.00A")],
    ),
    (
        "code, if applicable, for adverse effect of other viral vaccine (T50.B95-)",
        [NoteReference("under", "T50.B95")],
    ),
    ("influenza A/H1N1 (J10.-)", [NoteReference("under", "J10")]),
    (
        "diabetic acidosis - see categories E08-E10, E11, E13 with ketoacidosis",
        [NoteReference("range", "E08", "E10"), NoteReference("code", "E11"), NoteReference("code", "E13")],
    ),
    (
        "Appropriate codes in this chapter (i.e. E05.8, E07.0, E16-E31, E34.-) may be used",
        [
            NoteReference("code", "E05.8"),
            NoteReference("code", "E07.0"),
            NoteReference("range", "E16", "E31"),
            NoteReference("under", "E34"),
        ],
    ),
    (
        "fluency disorder (stuttering) following cerebrovascular disease (I69. with final characters -23)",
        [NoteReference("under", "I69")],
    ),
    ("certain localized infections - see body system-related chapters", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_real_note_text_yields_its_code_references(text: str, expected: list[NoteReference]) -> None:
    assert extract_note_references(text) == expected


def test_letter_in_third_position_sorts_after_the_digits_of_its_category_block() -> None:
    codes = ["C50", "C4A", "C49", "O9A", "O99", "I5A", "I51", "I60"]
    assert sorted(codes, key=code_sort_key) == ["C49", "C4A", "C50", "I51", "I5A", "I60", "O99", "O9A"]


def test_dotted_and_dotless_forms_sort_alike() -> None:
    assert code_sort_key("A04.71") == code_sort_key("A0471")
    assert code_sort_key("A05.-") == code_sort_key("A05")


def test_range_to_a_letter_category_includes_its_subcodes() -> None:
    assert in_range("O9A.211", "O00", "O9A")
    assert in_range("O99.89", "O00", "O9A")
    assert not in_range("P00.0", "O00", "O9A")


def test_subcode_range_compares_at_the_endpoint_length() -> None:
    assert in_range("A04.31", "A04.0", "A04.4")
    assert not in_range("A04.5", "A04.0", "A04.4")
    assert not in_range("A04", "A04.0", "A04.4")  # the whole category is wider than the range


def test_reference_matches_every_code_under_it() -> None:
    under = NoteReference("under", "A05")
    assert reference_matches(under, "A05.1")
    assert not reference_matches(under, "A06.0")
    assert reference_matches(NoteReference("code", "E11"), "E11")
    assert reference_matches(NoteReference("range", "E08", "E10"), "E09.65")
