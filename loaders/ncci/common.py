"""What the NCCI parsers share: the care setting, line decoding and the CMS date form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from enum import StrEnum
from pathlib import Path

from loaders.errors import ParseError

# CPT (5 digits, or 4 digits + F/T/U) and HCPCS Level II (letter + 4 digits): both 5 characters.
PROCEDURE_CODE = re.compile(r"\d{4}[0-9FTU]|[A-Z]\d{4}")


class NcciSetting(StrEnum):
    """Which claims an edit table applies to."""

    PRACTITIONER = "practitioner"  # also ambulatory surgical centers
    OUTPATIENT_HOSPITAL = "outpatient_hospital"
    DME = "dme"  # durable medical equipment suppliers (MUE only)


def decoded_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without its line ending), CRLF or LF, streaming.

    CMS writes these files on Windows: UTF-8 is tried first, then cp1252 (which maps almost every
    byte), so a NUL byte is how a UTF-16 or binary file (e.g. an XLSX) shows itself.
    """
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if b"\x00" in raw:
                raise ParseError(
                    path,
                    number,
                    None,
                    "single-byte or UTF-8 text (this looks like UTF-16 or binary)",
                    repr(raw[:20]),
                )
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("cp1252", errors="replace")
            if number == 1:
                text = text.removeprefix("\ufeff")
            yield number, text.rstrip("\r\n")


def read_text(path: Path) -> str:
    """The whole file as text (small CSV tables), with the encoding rules of ``decoded_lines``."""
    raw = path.read_bytes()
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise ParseError(
            path, line, None, "single-byte or UTF-8 text (this looks like UTF-16 or binary)", repr(raw[:20])
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def yyyymmdd(raw: str) -> date:
    """``20240101`` -> date; ValueError on anything else."""
    if len(raw) != 8 or not raw.isdigit():
        raise ValueError(raw)
    return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
