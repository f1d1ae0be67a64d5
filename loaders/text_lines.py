"""Reading an official text file line by line, so that a byte the encoding refuses names its line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from loaders.errors import ParseError


class TextLine(NamedTuple):
    number: int  # 1-based
    text: str  # without its line ending (CRLF or LF); a BOM at the start of the file is dropped
    ended: bool  # False only for a last line with no line ending (a file cut short, or just no final newline)


def decoded_lines(path: Path, encoding: str = "utf-8") -> Iterator[TextLine]:
    """Every line of ``path`` decoded with ``encoding``, streaming; undecodable bytes raise a located ParseError."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as err:
                bad = raw[max(err.start - 10, 0) : err.end + 10]
                raise ParseError(path, number, None, f"text encoded as {encoding}", repr(bad)) from err
            if number == 1:
                text = text.removeprefix("\ufeff")
            yield TextLine(number, text.rstrip("\r\n"), text.endswith("\n"))
