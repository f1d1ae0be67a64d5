"""Reading helpers the IPPS table parsers share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from loaders.errors import ParseError


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


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without line ending, trailing spaces kept), CRLF or LF, streaming."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            yield number, decode(path, raw).rstrip("\r\n")
