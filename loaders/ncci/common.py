"""What the NCCI parsers share: the care setting, line decoding and the CMS date form."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterator
from datetime import date
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from loaders import text_lines
from loaders.errors import ParseError

# CPT (5 digits, or 4 digits + F/T/U) and HCPCS Level II (letter + 4 digits): both 5 characters.
PROCEDURE_CODE = re.compile(r"\d{4}[0-9FTU]|[A-Z]\d{4}")


@lru_cache(maxsize=65536)  # millions of rows name a few thousand codes: the pattern runs once per code
def is_procedure_code(code: str) -> bool:
    """A 5-character CPT (four digits and a digit, F, T or U) or HCPCS Level II (a letter and four digits) code."""
    return PROCEDURE_CODE.fullmatch(code) is not None


class NcciSetting(StrEnum):
    """Which claims an edit table applies to."""

    PRACTITIONER = "practitioner"  # also ambulatory surgical centers
    OUTPATIENT_HOSPITAL = "outpatient_hospital"
    DME = "dme"  # durable medical equipment suppliers (MUE only)


_CHUNK = 1 << 20


def _binary_error(path: Path, line: int, head: bytes) -> ParseError:
    expected = "single-byte or UTF-8 text (this looks like UTF-16 or binary)"
    return ParseError(path, line, None, expected, repr(head[:20]))


def text_encoding(path: Path) -> str:
    """``utf-8`` if the whole file is UTF-8 (ASCII included), else ``cp1252``: CMS writes these files on Windows.

    One pass at C speed before the line-by-line read, so the encoding is the file's, not each line's.
    A NUL byte is how a UTF-16 or binary file (e.g. an XLSX) shows itself: refused with its line.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    lines_before = 0
    head = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            head = head or chunk
            if b"\x00" in chunk:
                raise _binary_error(path, lines_before + chunk[: chunk.index(b"\x00")].count(b"\n") + 1, head)
            lines_before += chunk.count(b"\n")
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
        if utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8 = False
    return "utf-8" if utf8 else "cp1252"


def decoded_lines(path: Path, max_line_bytes: int = text_lines.DEFAULT_MAX_LINE_BYTES,
                  field_at: Callable[[str], str | None] | None = None) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without its line ending), CRLF or LF, streaming, in the file's encoding;
    a line over ``max_line_bytes`` is refused having read only that much."""
    lines = text_lines.decoded_lines(path, text_encoding(path), max_line_bytes=max_line_bytes, field_at=field_at)
    for line in lines:
        yield line.number, line.text


@lru_cache(maxsize=8192)  # a quarter's millions of rows carry a few hundred distinct dates
def yyyymmdd(raw: str) -> date:
    """``20240101`` -> date; ValueError on anything else."""
    if len(raw) != 8 or not raw.isdigit():
        raise ValueError(raw)
    return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
