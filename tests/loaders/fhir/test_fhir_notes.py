"""Splitting clinical notes into sections, and finding code annotations in them."""

from __future__ import annotations

from loaders.fhir.notes import annotations, is_heading_title, line_at, section_at, split_sections

NOTE = """DISCHARGE SUMMARY
Patient: synthetic

HISTORY OF PRESENT ILLNESS:
Dyspnea for three days.
BP: 128/74

Assessment and Plan:
Diuresis. [SNOMED:42343007]
the patient said:
fine
"""


def test_caps_and_title_case_lines_ending_in_a_colon_are_headings() -> None:
    assert is_heading_title("HISTORY OF PRESENT ILLNESS")
    assert is_heading_title("Assessment and Plan")
    assert is_heading_title("Discharge Diagnoses")
    assert not is_heading_title("the patient said")
    assert not is_heading_title("Blood pressure")  # not Title Case: a label inside a section


def test_sections_keep_their_order_text_and_offsets() -> None:
    sections = split_sections(NOTE)
    assert [s.title for s in sections] == ["", "HISTORY OF PRESENT ILLNESS", "Assessment and Plan"]
    hpi = sections[1]
    assert hpi.text == "Dyspnea for three days.\nBP: 128/74"  # a label with a value stays in its section
    assert all(NOTE[s.start_offset : s.start_offset + len(s.text)] == s.text for s in sections)
    assert sections[2].text.endswith("the patient said:\nfine")  # lower-case line is not a heading


def test_note_without_headings_is_one_untitled_section() -> None:
    assert [(s.title, s.text) for s in split_sections("  Just a line.\n")] == [("", "Just a line.")]


def test_annotations_give_system_code_and_place() -> None:
    found = list(annotations(NOTE + "[ICD-10-CM: I50.23] [cpt:99214]"))
    assert [(a.system_name, a.code) for a in found] == [("snomed", "42343007"), ("icd10cm", "I50.23"), ("cpt", "99214")]
    sections = split_sections(NOTE)
    section = section_at(sections, found[0].offset)
    assert section is not None and section.title == "Assessment and Plan"
    assert line_at(NOTE, found[0].offset) == (9, "Diuresis. [SNOMED:42343007]")
