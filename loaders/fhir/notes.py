"""Clinical note text: splitting into sections by their headings, and finding ``[SNOMED:<id>]`` annotations.

A heading is a line of its own that ends with ':' and whose words are in CAPS ("HISTORY OF PRESENT
ILLNESS:") or Title Case ("Assessment and Plan:", small words like 'and', 'of' may stay lower case).
A line with text after the colon ("BP: 120/80") is not a heading; it stays in its section.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from loaders.fhir.records import DocumentSection, SystemName

_HEADING_LINE = re.compile(r"^[ \t]*([A-Za-z][A-Za-z0-9 /&,()'\-]{0,60}?)[ \t]*:[ \t]*$", re.MULTILINE)
_SMALL_WORDS = frozenset({"a", "an", "and", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with"})
_ANNOTATION = re.compile(r"\[(SNOMED|SCTID|ICD-?10-?CM|ICD-?10-?PCS|CPT|HCPCS|LOINC)\s*:\s*([0-9A-Za-z.\-]+)\]", re.I)
_ANNOTATION_SYSTEMS: dict[str, SystemName] = {
    "SNOMED": "snomed",
    "SCTID": "snomed",
    "ICD10CM": "icd10cm",
    "ICD10PCS": "icd10pcs",
    "CPT": "cpt",
    "HCPCS": "hcpcs",
    "LOINC": "loinc",
}


def is_heading_title(title: str) -> bool:
    """CAPS or Title Case, e.g. 'DISCHARGE DIAGNOSES' or 'Assessment and Plan'."""
    if title.isupper():
        return True
    words = [w for w in re.split(r"[ /&,()\-]+", title) if w]
    return (
        bool(words)
        and words[0][0].isupper()
        and all(w[0].isupper() or w[0].isdigit() or w in _SMALL_WORDS for w in words)
    )


def split_sections(text: str) -> tuple[DocumentSection, ...]:
    """The note's sections in order; text before the first heading, if any, is a section titled ''."""
    headings = [m for m in _HEADING_LINE.finditer(text) if is_heading_title(m[1])]
    spans: list[tuple[str, int, int]] = []
    if not headings or headings[0].start() > 0:
        spans.append(("", 0, headings[0].start() if headings else len(text)))
    for k, heading in enumerate(headings):
        end = headings[k + 1].start() if k + 1 < len(headings) else len(text)
        spans.append((heading[1], heading.end(), end))
    sections = []
    for title, start, end in spans:
        body = text[start:end]
        stripped = body.strip()
        if not title and not stripped:
            continue
        sections.append(DocumentSection(title, stripped, start + len(body) - len(body.lstrip())))
    return tuple(sections)


def section_at(sections: tuple[DocumentSection, ...], offset: int) -> DocumentSection | None:
    """The section whose text holds ``offset``; None for a heading line or blank space between sections."""
    for section in sections:
        if section.start_offset <= offset < section.start_offset + len(section.text):
            return section
    return None


def line_at(text: str, offset: int) -> tuple[int, str]:
    """The 1-based number and the stripped text of the line holding ``offset``."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return text.count("\n", 0, offset) + 1, text[start : end if end >= 0 else len(text)].strip()


@dataclass(frozen=True, slots=True)
class Annotation:
    system_name: SystemName
    code: str
    offset: int  # of the '[' in the note text


def annotations(text: str) -> Iterator[Annotation]:
    """Every ``[SNOMED:42343007]``-style code annotation (also SCTID, ICD10CM, ICD-10-PCS, CPT, HCPCS, LOINC)."""
    for m in _ANNOTATION.finditer(text):
        label = m[1].upper().replace("-", "")
        yield Annotation(_ANNOTATION_SYSTEMS[label], m[2], m.start())
