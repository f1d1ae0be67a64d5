"""A CPT licensee's tab-delimited data file: code in one column, descriptors in others.

CPT descriptors are AMA content: the project ships none, it reads the file a licensee supplies. The
default layout is the historic ``LONGULT.TXT`` (code, tab, long descriptor, no header); ``MEDU.TXT`` and
``SHORTU.TXT`` have the same shape, and newer files can be described with ``CptFileLayout``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loaders.errors import ParseError, WrongFileError
from loaders.input_checks import RepeatedKeys, check_width, require_rows
from loaders.text_lines import decoded_lines

CptCategory = Literal["I", "II", "III", "PLA"]
_CATEGORIES: tuple[tuple[re.Pattern[str], CptCategory], ...] = (
    (re.compile(r"\d{5}"), "I"),
    (re.compile(r"\d{4}F"), "II"),
    (re.compile(r"\d{4}T"), "III"),
    (re.compile(r"\d{4}U"), "PLA"),
)
_HCPCS = re.compile(r"[A-Z]\d{4}")
# Documented caps: the longest licensee descriptors run to about 1,000 characters.
MAX_DESCRIPTOR_CHARS = 4_000
MAX_LINE_BYTES = 16 << 10


@dataclass(frozen=True, slots=True)
class CptFileLayout:
    """Where the code and each descriptor sit (0-based columns) and how the file is encoded.

    ``descriptor_columns`` may be given as a dict (``{"long": 1}``); it is kept as sorted pairs so the
    layout stays hashable.
    """

    code_column: int = 0
    descriptor_columns: tuple[tuple[str, int], ...] | Mapping[str, int] = (("long", 1),)
    has_header: bool = False
    encoding: str = "utf-8"
    delimiter: str = "\t"
    # The file has exactly the columns the layout names: a cell beyond them means a shifted or foreign row.
    extra_columns: bool = False

    def __post_init__(self) -> None:
        pairs = self.descriptor_columns
        pairs = tuple(sorted(pairs.items() if isinstance(pairs, Mapping) else pairs, key=lambda pair: pair[1]))
        if not pairs:
            raise ValueError("a CPT file layout needs at least one descriptor column")
        object.__setattr__(self, "descriptor_columns", pairs)

    @property
    def descriptor_pairs(self) -> tuple[tuple[str, int], ...]:
        """(kind, column) pairs in column order (``__post_init__`` has turned any mapping into these)."""
        return tuple(self.descriptor_columns.items()) if isinstance(self.descriptor_columns, Mapping) else (
            self.descriptor_columns)


@dataclass(frozen=True, slots=True)
class CptCode:
    code: str
    category: CptCategory
    descriptors: tuple[tuple[str, str], ...]  # (kind, text), e.g. ("long", "..."), in column order
    line: int

    def descriptor(self, kind: str) -> str | None:
        return next((text for name, text in self.descriptors if name == kind), None)


def cpt_category(code: str) -> CptCategory | None:
    """Category I (5 digits), II (nnnnF), III (nnnnT) or PLA (nnnnU); None when the code is not CPT."""
    return next((category for pattern, category in _CATEGORIES if pattern.fullmatch(code)), None)


def _check_code(path: Path, line: int, code: str, cells: list[str]) -> CptCategory:
    category = cpt_category(code)
    if category is not None:
        return category
    if _HCPCS.fullmatch(code):
        raise WrongFileError(path, line, "code", "a CPT code; this looks like HCPCS Level II (use loaders.hcpcs.anweb)",
                             code)
    if len(cells) == 1 and len(cells[0]) > 40:
        raise WrongFileError(path, line, "code", "a tab-delimited CPT file (code, tab, descriptor); this line has "
                             "no delimiter (a fixed-width file such as the HCPCS ANWEB?)", cells[0][:20])
    hint = " (a header row? set CptFileLayout(has_header=True))" if line == 1 and code.isalpha() else ""
    raise ParseError(path, line, "code", f"a CPT code: 5 digits, or 4 digits then F, T or U{hint}", code)


def read_cpt_file(path: Path, layout: CptFileLayout | None = None) -> Iterator[CptCode]:
    """Yield each code of a licensee file with the descriptors ``layout`` names.

    A code listed twice with the same descriptors is folded; with other descriptors it is refused; a file
    without a code (empty, or its header alone) is refused."""
    layout = layout or CptFileLayout()
    descriptor_columns = layout.descriptor_pairs
    needed = max(layout.code_column, *(column for _, column in descriptor_columns)) + 1
    names = {column: kind for kind, column in descriptor_columns} | {layout.code_column: "code"}

    def field_at(seen: str) -> str | None:
        return names.get(seen.count(layout.delimiter))

    seen: RepeatedKeys[str, tuple[tuple[str, str], ...]] = RepeatedKeys(
        "code", "descriptor", describe=lambda v: ", ".join(f"{kind} {text!r}" for kind, text in v))
    codes = 0
    for number, text, _ in decoded_lines(path, layout.encoding, max_line_bytes=MAX_LINE_BYTES, field_at=field_at):
        if not text.strip() or (number == 1 and layout.has_header):
            continue
        cells = text.split(layout.delimiter)
        code = cells[layout.code_column].strip() if len(cells) > layout.code_column else ""
        category = _check_code(path, number, code, cells)
        if len(cells) < needed or (len(cells) > needed and not layout.extra_columns):
            what = "at least" if layout.extra_columns else "exactly"
            raise ParseError(path, number, "columns", f"{what} {needed} {layout.delimiter!r}-separated columns",
                             str(len(cells)))
        descriptors = []
        for kind, column in descriptor_columns:
            value = check_width(path, number, kind, cells[column].strip(), MAX_DESCRIPTOR_CHARS)
            if not value:
                raise ParseError(path, number, kind, f"a {kind} descriptor in column {column}", "")
            descriptors.append((kind, value))
        if seen.first(code, tuple(descriptors), path, number, field_name=descriptor_columns[0][0]):
            codes += 1
            yield CptCode(code, category, tuple(descriptors), number)
    require_rows(path, codes, "CPT code")
