"""IPPS Tables 6I (complete MCC list) and 6J (complete CC list): one secondary-diagnosis code per line.

Layout: a title line (``TABLE 6I - COMPLETE MCC LIST``), a ``Diagnosis Code<TAB>Description`` header,
dotted ICD-10-CM codes with their descriptions, then a blank line and a ``Notes:`` section to the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loaders.errors import ParseError, WrongFileError
from loaders.icd10cm.codes import DOTTED_CODE
from loaders.input_checks import RepeatedKeys
from loaders.msdrg_tables.common import text_lines

Severity = Literal["CC", "MCC"]
_TITLE = re.compile(r"TABLE\s+6([IJ])\b.*\b(MCC|CC)\s+LIST", re.IGNORECASE)
_LEVELS: dict[str, Severity] = {"I": "MCC", "J": "CC"}


@dataclass(frozen=True, slots=True)
class CcListEntry:
    code: str  # dotted ICD-10-CM, e.g. A02.1
    level: Severity
    description: str
    line: int


def read_cc_list(path: Path, level: Severity | None = None) -> Iterator[CcListEntry]:
    """Yield every code of Table 6I or 6J; the level comes from the title (``level`` checks it if given)."""
    lines = text_lines(path)
    seen: RepeatedKeys[str, str] = RepeatedKeys("code", "diagnosis code", describe=lambda d: f"description {d!r}")
    found: Severity | None = None
    header = False
    count = 0
    for number, text in lines:
        if found is None:
            if not text.strip():
                continue
            match = _TITLE.search(text)
            if match is None:
                raise WrongFileError(
                    path,
                    number,
                    "title",
                    "'TABLE 6I - COMPLETE MCC LIST' or 'TABLE 6J - COMPLETE CC LIST'",
                    text[:80],
                )
            found = _LEVELS[match.group(1).upper()]
            if found != match.group(2).upper() or (level is not None and level != found):
                raise WrongFileError(path, number, "title", f"the {level or found} list", text[:80])
            continue
        if not header:
            if [cell.strip().lower() for cell in text.split("\t")] != ["diagnosis code", "description"]:
                raise ParseError(path, number, "header", "'Diagnosis Code<TAB>Description'", text[:80])
            header = True
            continue
        if not text.strip():
            continue
        if text.strip().lower().startswith("notes"):  # the closing notes are prose, not codes
            break
        code, tab, description = text.partition("\t")
        code = code.strip()
        if not tab or not DOTTED_CODE.fullmatch(code):
            raise ParseError(
                path, number, "diagnosis code", "a dotted ICD-10-CM code, a tab, a description", text[:80]
            )
        # A code twice is a duplicate, said so here (not only through 6K's count): folded if its description is
        # the same, refused otherwise.
        if seen.first(code, description.strip(), path, number):
            count += 1
            yield CcListEntry(code, found, description.strip(), number)
    if count == 0:
        raise ParseError(
            path, None, "rows", "a title, a header and at least one code (file cut short?)", None
        )
