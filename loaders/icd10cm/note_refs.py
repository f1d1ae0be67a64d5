"""Find the ICD-10-CM codes a tabular note points at: single codes, "any code under", ranges, lists."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from loaders.icd10cm.codes import code_sort_key, in_range, strip_dot

__all__ = ["NoteReference", "code_sort_key", "extract_note_references", "in_range"]

ReferenceKind = Literal["code", "under", "range"]


@dataclass(frozen=True, slots=True)
class NoteReference:
    """One target of a note: a code, every code under a code (``A05.-``), or a range ``code``–``code_to``."""

    kind: ReferenceKind
    code: str  # dotted, without any trailing ".-"
    code_to: str | None = None
    start: int = field(default=-1, compare=False)  # where the reference is written in the note's text


# A code as notes write it: ``E11``, ``A04.7``, ``A05.-``, ``C7A.02-``, ``I69.`` (dot left dangling).
_CODE = r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{0,4})?(?:\.?-)?"
# Not followed by a letter/digit (``G6PD``, ``H1N1``) and not part of a longer word.
_REFERENCE = re.compile(rf"(?<![0-9A-Za-z])(?P<first>{_CODE})(?:\s*-\s*(?P<last>{_CODE}))?(?![0-9A-Za-z])")
# Words that put a code-shaped token in a non-code sense ("vitamin B12").
_NOT_A_CODE_BEFORE = re.compile(r"vitamins?\s+$", re.IGNORECASE)


def _endpoint(token: str) -> tuple[str, bool]:
    """Split a written code into its dotted form and whether it meant "any code under it"."""
    under = token.endswith("-") or token.endswith(".")
    bare = token.rstrip("-").rstrip(".")
    return bare, under


def extract_note_references(text: str) -> list[NoteReference]:
    """Every code reference in a note's text, in the order written.

    ``(A05.-)`` -> under A05; ``A04.0-A04.4`` and ``F10.--F19.-`` -> ranges; ``(E08.-, E09.-)``
    -> two unders. A range whose endpoints are reversed is kept as written (the XML never has one).
    """
    found: list[NoteReference] = []
    for match in _REFERENCE.finditer(text):
        if _NOT_A_CODE_BEFORE.search(text, 0, match.start()):
            continue
        first, first_under = _endpoint(match["first"])
        if match["last"]:
            last, _ = _endpoint(match["last"])
            found.append(NoteReference("range", first, last, match.start()))
        else:
            found.append(NoteReference("under" if first_under else "code", first, None, match.start()))
    return found


def reference_matches(reference: NoteReference, code: str) -> bool:
    """Whether ``code`` (dotted or not) is covered by ``reference``."""
    if reference.kind == "range":
        assert reference.code_to is not None
        return in_range(code, reference.code, reference.code_to)
    bare, target = strip_dot(code), strip_dot(reference.code)
    return bare.startswith(target) if reference.kind == "under" else bare == target


def sorted_codes(codes: list[str]) -> list[str]:
    """Codes in tabular order (structural, not string order)."""
    return sorted(codes, key=code_sort_key)
