"""Errors a loader raises: each names the file, the record and what was expected."""

from __future__ import annotations

from pathlib import Path


class LoadError(Exception):
    """Base class for every error a load can end with."""


class ParseError(LoadError):
    """A source file could not be read as the official layout says it should be.

    ``line`` is 1-based (or a record number for non-line formats); ``field`` names the
    column or element; ``expected`` says what the layout requires; ``found`` shows what was there.
    """

    def __init__(
        self,
        file: str | Path,
        line: int | None,
        field: str | None,
        expected: str,
        found: str | None = None,
    ) -> None:
        self.file = str(file)
        self.line = line
        self.field = field
        self.expected = expected
        self.found = found
        where = self.file + (f":{line}" if line is not None else "")
        what = f" field {field!r}:" if field else ""
        got = f" (found {found!r})" if found is not None else ""
        super().__init__(f"{where}:{what} expected {expected}{got}")


class WrongFileError(ParseError):
    """The file is readable but is not the kind of file this loader takes (wrong system or layout)."""
