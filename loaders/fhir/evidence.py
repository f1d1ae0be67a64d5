"""Evidence for coding: one record per coded clinical statement, and mentions found in notes.

Linking is deliberately simple: a Condition or Procedure is linked to the first section (in the
encounter's notes, in source order) whose text contains one of its names — its code.text or a
coding's display — compared case-insensitively; otherwise to no section. Each such section also
yields a ``note_mention`` per coding of the statement, as does each ``[SNOMED:<id>]``-style annotation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from loaders.fhir.notes import annotations, line_at, section_at
from loaders.fhir.records import Coding, Concept, DocumentRecord, DocumentSection, EvidenceKind, EvidenceRecord

_SHORTEST_NAME = 3  # shorter names ("HF") would match inside ordinary words


@dataclass(frozen=True, slots=True)
class Statement:
    """A coded clinical statement, with the words a note would use for it."""

    kind: EvidenceKind
    source_resource: str  # Type/id
    encounter_id: str | None
    codings: tuple[Coding, ...]
    names: tuple[str, ...]  # code.text and the codings' displays
    text: str  # what the statement says, for the evidence record


def statement_evidence(statement: Statement, documents: Iterable[DocumentRecord]) -> list[EvidenceRecord]:
    """One record per coding, linked to the first note section that mentions the statement."""
    link: tuple[DocumentRecord, DocumentSection] | None = None
    for document in _same_encounter(statement, documents):
        section = next((s for s in document.sections if _mention_index(s.text, statement.names) >= 0), None)
        if section is not None:
            link = (document, section)
            break
    return [
        EvidenceRecord(
            id=f"{statement.source_resource}#{coding.system_name}:{coding.code}",
            encounter_id=statement.encounter_id,
            kind=statement.kind,
            source_resource=statement.source_resource,
            concept=Concept(coding.system_name, coding.code),
            document_id=link[0].id if link else None,
            section_title=link[1].title if link else None,
            text=coding.display or statement.text,
        )
        for coding in statement.codings
    ]


def note_mentions(document: DocumentRecord, statements: Iterable[Statement]) -> list[EvidenceRecord]:
    """Mentions in ``document`` of its encounter's statements (by name) and of annotated codes."""
    found: list[EvidenceRecord] = []
    # Only statements of the note's own encounter; a note without an encounter is matched by annotations only.
    related = [
        s
        for s in statements
        if s.kind in ("condition", "procedure") and document.encounter_id and s.encounter_id == document.encounter_id
    ]
    for section in document.sections:
        for statement in related:
            index = _mention_index(section.text, statement.names)
            if index >= 0:
                offset = section.start_offset + index
                found += [_mention(document, section, offset, c.system_name, c.code) for c in statement.codings]
    for annotation in annotations(document.text):
        section = section_at(document.sections, annotation.offset)
        found.append(_mention(document, section, annotation.offset, annotation.system_name, annotation.code))
    return found


def _mention(
    document: DocumentRecord, section: DocumentSection | None, offset: int, system_name: str, code: str
) -> EvidenceRecord:
    line_number, line_text = line_at(document.text, offset)
    return EvidenceRecord(
        # By line: a line naming a condition and carrying its annotation is one mention.
        id=f"DocumentReference/{document.id}@line{line_number}#{system_name}:{code}",
        encounter_id=document.encounter_id,
        kind="note_mention",
        source_resource=f"DocumentReference/{document.id}",
        concept=Concept(system_name, code),  # type: ignore[arg-type]
        document_id=document.id,
        section_title=section.title if section else None,
        text=line_text,
    )


def _same_encounter(statement: Statement, documents: Iterable[DocumentRecord]) -> list[DocumentRecord]:
    return [d for d in documents if statement.encounter_id is not None and d.encounter_id == statement.encounter_id]


def _mention_index(text: str, names: tuple[str, ...]) -> int:
    """Where the first of ``names`` occurs in ``text`` (case-insensitive), or -1."""
    lowered = text.lower()
    hits = [lowered.find(n.lower()) for n in names if len(n) >= _SHORTEST_NAME]
    return min((h for h in hits if h >= 0), default=-1)
