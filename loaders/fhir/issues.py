"""Where a FHIR problem is and what it is; every problem of a source is raised together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from loaders.errors import ParseError


@dataclass(frozen=True, slots=True)
class FhirLocation:
    """A place in a FHIR source: the file, its line (NDJSON only) and a FHIRPath-like path.

    For a Bundle the entry index is inside ``path`` (``Bundle.entry[3].resource.subject.reference``)
    and also in ``entry``; for NDJSON ``line`` is the 1-based line and ``path`` starts at the resource type.
    """

    file: str
    line: int | None
    entry: int | None
    path: str

    def child(self, sub: str) -> FhirLocation:
        """The location of ``sub`` (``subject.reference``, ``[2]``) under this one."""
        joined = self.path + sub if sub.startswith("[") else f"{self.path}.{sub}" if sub else self.path
        return FhirLocation(self.file, self.line, self.entry, joined)

    def __str__(self) -> str:
        return f"{Path(self.file).name}{f':{self.line}' if self.line is not None else ''}: {self.path}"


@dataclass(frozen=True, slots=True)
class FhirIssue:
    location: FhirLocation
    reason: str  # what was expected, or what is wrong
    found: str | None = None

    def __str__(self) -> str:
        got = f" (found {self.found!r})" if self.found is not None else ""
        return f"{self.location}: {self.reason}{got}"


class FhirValidationError(ParseError):
    """A FHIR source failed validation; ``issues`` holds every problem found, each located.

    The ParseError fields (file, line, field, expected, found) describe the first issue so that
    code catching ParseError still gets a located message; ``str()`` lists them all.
    """

    def __init__(self, source: str | Path, issues: Sequence[FhirIssue]) -> None:
        if not issues:
            raise ValueError("FhirValidationError needs at least one issue")
        self.issues = tuple(issues)
        first = self.issues[0]
        super().__init__(first.location.file, first.location.line, first.location.path, first.reason, first.found)
        count = len(self.issues)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        self.args = (f"{count} problem{'s' if count != 1 else ''} in FHIR source {source}:\n{lines}",)
