"""IPPS Table 5: MS-DRGs with relative weights and mean lengths of stay (tab-delimited TXT, cp1252).

Title rows (with cp1252 dashes; a title may be one quoted cell spanning two lines) come before the
header; headers carry the fiscal year and trailing spaces, so columns are found by the words in them
("Post-Acute", "Special Pay", "Cap Applied", "Geometric"…). Titles with commas are quoted, hence the
csv module. 998/999 have a blank MDC, TYPE ``**`` and ``.`` for weight and LOS. The file may end with
footnotes or a row of empty cells.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from loaders.errors import ParseError, WrongFileError
from loaders.input_checks import RepeatedKeys, check_file_size
from loaders.msdrg_tables.common import decode

HEADER_SEARCH_ROWS = 15
# Documented cap: Table 5 is ~800 rows (~100 KB); it is read whole, so a larger file is refused unread.
MAX_FILE_BYTES = 4 << 20
DRG_TYPES = frozenset({"MED", "SURG", "**"})
_DRG = re.compile(r"\d{3}")
_MDC = re.compile(r"PRE|\d{1,2}")
_FLAGS = {"yes": True, "y": True, "no": False, "n": False}


@dataclass(frozen=True, slots=True)
class DrgWeightRow:
    drg: str  # 3 characters, leading zeros
    title: str
    mdc: str | None  # "PRE", "01".."25"; None for the unrelated-OR and error DRGs (981-989, 998, 999)
    drg_type: str  # MED, SURG or ** (error DRGs)
    post_acute: bool  # transfers to post-acute care are paid per diem
    special_pay: bool  # post-acute DRG with the special payment method
    weight: float | None  # the weight to pay with (10% cap applied where the table has both)
    weight_before_cap: float | None
    gmlos: float | None  # geometric mean length of stay
    amlos: float | None  # arithmetic mean length of stay
    line: int


def _find(header: list[str], *words: str) -> int | None:
    hits = [i for i, cell in enumerate(header) if all(word in cell for word in words)]
    return hits[0] if len(hits) == 1 else None


def _columns(path: Path, line: int, raw: list[str]) -> dict[str, int | None]:
    header = [" ".join(cell.split()).lower() for cell in raw]
    columns: dict[str, int | None] = {
        "drg": header.index("ms-drg") if "ms-drg" in header else None,
        "post_acute": _find(header, "post-acute"),
        "special_pay": _find(header, "special pay"),
        "mdc": header.index("mdc") if "mdc" in header else None,
        "type": header.index("type") if "type" in header else None,
        "title": _find(header, "title"),
        "gmlos": _find(header, "geometric"),
        "amlos": _find(header, "arithmetic"),
        "capped": _find(header, "weight", "cap applied"),
        "before_cap": _find(header, "weight", "before cap"),
    }
    weights = [i for i, cell in enumerate(header) if "weight" in cell]
    if columns["capped"] is None and len(weights) == 1:  # older tables: one weight column
        columns["capped"] = weights[0]
    missing = [name for name, index in columns.items() if index is None and name != "before_cap"]
    if missing:
        raise ParseError(
            path,
            line,
            "header",
            f"columns for {', '.join(missing)} (MS-DRG, Post-Acute, Special Pay, "
            "MDC, TYPE, Title, Weights, Geometric/Arithmetic mean LOS)",
            " | ".join(raw),
        )
    return columns


def _number(path: Path, line: int, field: str, raw: str) -> float | None:
    if raw in (".", ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ParseError(path, line, field, "a number or '.'", raw) from None
    if not value >= 0:  # also refuses nan; weights and lengths of stay are never negative
        raise ParseError(path, line, field, "a number of 0 or more", raw)
    return value


def _row(path: Path, line: int, cells: list[str], col: dict[str, int | None]) -> DrgWeightRow:
    def cell(name: str) -> str:
        index = col[name]
        return cells[index].strip() if index is not None and index < len(cells) else ""

    flags = {}
    for name, label in (("post_acute", "post-acute DRG"), ("special_pay", "special pay DRG")):
        if cell(name).lower() not in _FLAGS:
            raise ParseError(path, line, label, "Yes/No (or Y/N)", cell(name))
        flags[name] = _FLAGS[cell(name).lower()]
    mdc = cell("mdc") or None
    if mdc is not None and not _MDC.fullmatch(mdc):
        raise ParseError(path, line, "MDC", "PRE, an MDC number or blank", mdc)
    if cell("type") not in DRG_TYPES:
        raise ParseError(path, line, "TYPE", "MED, SURG or **", cell("type"))
    title = " ".join(cell("title").split())
    if not title:
        raise ParseError(path, line, "MS-DRG title", "a title", "")
    weight = _number(path, line, "weight", cell("capped"))
    if weight is None and cell("type") != "**":
        raise ParseError(
            path, line, "weight", "a relative weight (only error DRGs 998/999 have '.')", cell("capped")
        )
    return DrgWeightRow(
        drg=cell("drg"),
        title=title,
        mdc=None if mdc is None else (mdc if mdc == "PRE" else f"{int(mdc):02d}"),
        drg_type=cell("type"),
        post_acute=flags["post_acute"],
        special_pay=flags["special_pay"],
        weight=weight,
        weight_before_cap=_number(path, line, "weight before cap", cell("before_cap")),
        gmlos=_number(path, line, "geometric mean LOS", cell("gmlos")),
        amlos=_number(path, line, "arithmetic mean LOS", cell("amlos")),
        line=line,
    )


def read_table5(path: Path) -> Iterator[DrgWeightRow]:
    """Yield one row per MS-DRG, in file order. A DRG listed twice with the same row is folded; with another
    title, weight or flag it is refused; a row with more or fewer cells than the header is refused."""
    seen: RepeatedKeys[str, DrgWeightRow] = RepeatedKeys(
        "MS-DRG", "MS-DRG", describe=lambda r: f"title {r.title!r}, weight {r.weight}")
    for row in _rows(path):
        if seen.first(row.drg, dataclasses.replace(row, line=0), path, row.line):
            yield row


def _rows(path: Path) -> Iterator[DrgWeightRow]:
    check_file_size(path, MAX_FILE_BYTES, "IPPS Table 5")
    reader = csv.reader(io.StringIO(decode(path, path.read_bytes()), newline=""), delimiter="\t")
    width = 0
    columns: dict[str, int | None] | None = None
    footnotes = False
    count = 0
    start = 1
    for index, cells in enumerate(reader):
        line, start = start, reader.line_num + 1
        first = cells[0].strip() if cells else ""
        if columns is None:
            if first.lower() == "ms-drg":
                columns = _columns(path, line, cells)
                width = len(cells)
            elif index >= HEADER_SEARCH_ROWS:
                break
            continue
        if not any(c.strip() for c in cells):
            continue
        if _DRG.fullmatch(first) and not footnotes:
            if len(cells) < width or any(cell.strip() for cell in cells[width:]):
                raise ParseError(path, line, "columns", f"the header's {width} tab-separated cells",
                                 f"{len(cells)} cells")
            count += 1
            yield _row(path, line, cells, columns)
        elif count and not _DRG.fullmatch(first) and not any(c.strip() for c in cells[1:]):
            footnotes = True  # prose under the table: one filled cell per row
        else:
            raise ParseError(
                path, line, "MS-DRG", "a 3-digit MS-DRG (or a footnote line after the table)", first
            )
    if columns is None:
        raise WrongFileError(
            path, None, "header", "IPPS Table 5: a header row starting 'MS-DRG' near the top", None
        )
    if count == 0:
        raise ParseError(
            path, start, "rows", "at least one MS-DRG row after the header (file cut short?)", None
        )
