"""Reading helpers the IPPS table parsers share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from loaders.errors import ParseError
from loaders.ncci.common import text_encoding  # CMS text files: one rule for every table
from loaders.text_lines import decoded_lines


def _field_at(seen: str) -> str:
    return "description" if "\t" in seen or len(seen) > 40 else "code"


def decode(path: Path, raw: bytes) -> str:
    """CMS tables are cp1252 (dashes in titles); UTF-8 is tried first. NUL bytes mean UTF-16 or binary."""
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise ParseError(
            path, line, None, "single-byte or UTF-8 text (this looks like UTF-16 or binary)", repr(raw[:20])
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


# Documented cap for the line tables (6I, 6J, 6K): a code, a level, a collection and a title of ~250 characters.
MAX_LINE_BYTES = 4096


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without line ending, trailing spaces kept), CRLF or LF, streaming.

    The encoding is the whole file's (UTF-8 if it all decodes so, else cp1252), as the NCCI tables' is.
    A line over ``MAX_LINE_BYTES`` is refused having read only that much.
    """
    for line in decoded_lines(path, text_encoding(path), max_line_bytes=MAX_LINE_BYTES, field_at=_field_at):
        yield line.number, line.text
