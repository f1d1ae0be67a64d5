"""Parse a coding-assignments NDJSON file: one ``{"encounter", "version"?, "assignment"}`` object per line.

``assignment`` is the body ``POST /v1/encounters/{id}/coding`` takes (``CodingAssignmentIn``); ``version``
is informational (the graph numbers versions itself). Lines are yielded in file order with each problem as a
located ParseError in place of the record, so a loader can report every bad line at once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from graph_service.models.coding import CodingAssignmentIn
from loaders.errors import ParseError
from loaders.text_lines import decoded_lines


@dataclass(frozen=True, slots=True)
class AssignmentLine:
    file: str
    line: int
    encounter: str
    assignment: CodingAssignmentIn
    digest: str  # of the line's text: the same line always gets the same assignment id


def _located(error: dict, prefix: str = "assignment") -> str:
    return prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])


def parse_assignment_line(path: Path, number: int, text: str) -> AssignmentLine:
    """One line as a validated record; a ParseError names the line and the field."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ParseError(path, number, None, "one JSON object per line", f"{err.msg} at column {err.colno}") from err
    if not isinstance(data, dict):
        raise ParseError(path, number, None, 'an object {"encounter": …, "assignment": …}', type(data).__name__)
    encounter = data.get("encounter")
    if not isinstance(encounter, str) or not encounter:
        raise ParseError(path, number, "encounter", "the encounter id (a non-empty string)", repr(encounter)[:60])
    if not isinstance(data.get("assignment"), dict):
        raise ParseError(path, number, "assignment", "a coding assignment object (CodingAssignmentIn)",
                         repr(data.get("assignment"))[:60])
    try:
        assignment = CodingAssignmentIn.model_validate(data["assignment"])
    except ValidationError as err:
        first = err.errors()[0]
        value = first.get("input")
        found = str(value)[:60] if isinstance(value, str | int | float | bool) else None
        more = f" (and {err.error_count() - 1} more problems)" if err.error_count() > 1 else ""
        raise ParseError(path, number, _located(first), first["msg"].removeprefix("Value error, ") + more,
                         found) from err
    return AssignmentLine(str(path), number, encounter, assignment, hashlib.sha256(text.encode()).hexdigest()[:8])


def read_assignment_lines(path: Path) -> Iterator[AssignmentLine | ParseError]:
    """Every non-blank line of ``path``: its record, or the located problem."""
    for line in decoded_lines(path):
        if not line.text.strip():
            continue
        try:
            yield parse_assignment_line(path, line.number, line.text)
        except ParseError as err:
            yield err
