"""Reading an official text file line by line, so that a byte the encoding refuses names its line.

Every line is read with a byte cap (``max_line_bytes``): a line longer than the format allows is refused
after reading at most the cap, never held whole (a 10 MB "title" costs the cap, not 10 MB).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from loaders.errors import ParseError

UTF8_BOM = b"\xef\xbb\xbf"
# The default cap for a format that documents no line width of its own: far above any official record.
DEFAULT_MAX_LINE_BYTES = 1 << 20


class TextLine(NamedTuple):
    number: int  # 1-based
    text: str  # without its line ending (CRLF or LF); a BOM at the start of the file is dropped
    ended: bool  # False only for a last line with no line ending (a file cut short, or just no final newline)


class LineTooLongError(ParseError):
    """A line over the format's documented width: refused having read only the cap."""


def capped_raw_lines(
    path: Path,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    field_at: Callable[[str], str | None] | None = None,
) -> Iterator[tuple[int, bytes]]:
    """(1-based number, raw bytes with line ending) of ``path``; a UTF-8 BOM on line 1 is dropped whatever the
    encoding (CMS files written by Windows tools carry one). ``field_at`` names the field an overlong line
    overflows, from the text read so far (the cap's worth)."""
    with path.open("rb") as handle:
        number = 0
        while raw := handle.readline(max_line_bytes + 1):
            number += 1
            if number == 1 and raw.startswith(UTF8_BOM):
                raw = raw[len(UTF8_BOM):]
            body = raw.rstrip(b"\r\n")
            if len(body) > max_line_bytes:
                prefix = body[:max_line_bytes].decode("utf-8", errors="replace")
                field = field_at(prefix) if field_at else None
                raise LineTooLongError(
                    path, number, field or "line", f"a line of at most {max_line_bytes:,} bytes (the format's limit)",
                    f"a longer line starting {prefix[:60]!r}",
                )
            yield number, raw


def decoded_lines(
    path: Path,
    encoding: str = "utf-8",
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    field_at: Callable[[str], str | None] | None = None,
) -> Iterator[TextLine]:
    """Every line of ``path`` decoded with ``encoding``, streaming; undecodable bytes and lines over
    ``max_line_bytes`` raise a located ParseError."""
    for number, raw in capped_raw_lines(path, max_line_bytes, field_at):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as err:
            bad = raw[max(err.start - 10, 0) : err.end + 10]
            raise ParseError(path, number, None, f"text encoded as {encoding}", repr(bad)) from err
        if number == 1:
            text = text.removeprefix("\ufeff")
        yield TextLine(number, text.rstrip("\r\n"), text.endswith("\n"))


def tab_field_at(columns: tuple[str, ...]) -> Callable[[str], str | None]:
    """``field_at`` for a tab-delimited layout: the column the overlong text had reached."""

    def field_at(prefix: str) -> str | None:
        index = prefix.count("\t")
        return columns[index] if index < len(columns) else None

    return field_at
