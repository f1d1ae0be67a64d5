"""The CMS ICD-10-CM conversion table (``<FY>-conversion-table``, tab-delimited text): which codes of
earlier releases each current code replaces, loaded as ``(previous)-[:REPLACED_BY]->(current)``.

Layout (FORMATS.md §1): title rows, then a header naming the current code, the effective year and
the previous code(s); data rows hold a dotted current code, an effective fiscal year, an Excel serial
date (45017 = 2023-04-01) or nothing, and previous codes as a comma/semicolon list or ranges
(``H02.101-H02.106``). A range is expanded against the codes of the releases in the graph.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from loaders.errors import ParseError, WrongFileError
from loaders.icd10cm.codes import DOTTED_CODE, add_dot, in_range
from loaders.machinery.pipeline import LoadContext
from loaders.registry import register
from loaders.text_lines import decoded_lines
from ontology.code_systems import system
from ontology.release_ranges import code_scope, members
from ontology.vocabulary import L, R

ICD10CM = system("icd10cm")
_EXCEL_EPOCH = date(1899, 12, 30)


@dataclass(frozen=True, slots=True)
class ConversionRow:
    current: str
    effective: str | None  # "FY2025", an ISO date, or None
    previous: tuple[tuple[str, str | None], ...]  # (code, range end or None)
    line: int


def _effective(raw: str, path: Path, line: int) -> str | None:
    raw = raw.strip()
    if not raw:
        return None
    if re.fullmatch(r"\d{4}", raw):
        return f"FY{raw}"
    if re.fullmatch(r"\d{5}", raw):
        return (_EXCEL_EPOCH + timedelta(days=int(raw))).isoformat()
    raise ParseError(path, line, "effective", "a fiscal year (2025), an Excel serial date (45017) or blank", raw)


def read_conversion_table(path: Path) -> Iterator[ConversionRow]:
    header_seen = False
    for line, text, _ in decoded_lines(path, "utf-8"):
        cells = [c.strip() for c in text.split("\t")]
        if not header_seen:
            joined = " ".join(cells).lower()
            if "current code" in joined and "previous code" in joined:
                header_seen = True
            elif line > 20:
                raise WrongFileError(path, line, "header", "a header naming 'Current Code' and 'Previous Code(s)' "
                                     "within the first 20 lines (a CMS ICD-10-CM conversion table)")
            continue
        if not any(cells):
            continue
        if len(cells) < 3:
            raise ParseError(path, line, "columns", "current code, effective, previous code(s) separated by tabs",
                             text)
        current = cells[0]
        if not DOTTED_CODE.fullmatch(current):
            raise ParseError(path, line, "current code", "a dotted ICD-10-CM code such as C83.390", current)
        previous: list[tuple[str, str | None]] = []
        for item in re.split(r"[;,]", cells[2]):
            item = item.strip()
            if not item or item.upper() == "NONE":
                continue
            first, _, last = (part.strip() for part in item.partition("-"))
            for code in (first, last):
                if code and not DOTTED_CODE.fullmatch(add_dot(code)):
                    raise ParseError(path, line, "previous code(s)", "ICD-10-CM codes or ranges", item)
            previous.append((add_dot(first), add_dot(last) if last else None))
        yield ConversionRow(current, _effective(cells[1], path, line), tuple(previous), line)
    if not header_seen:
        raise WrongFileError(path, None, "header", "a CMS ICD-10-CM conversion table header")


KNOWN_CODES = f"""
MATCH (r:{L.Release} {{system: 'icd10cm', status: 'visible'}})
WITH {code_scope('r')} AS scope
{members('scope', 'c', 'm')}
RETURN DISTINCT c.code AS code
"""

REPLACED_BY_ROWS = f"""
UNWIND $rows AS row
MERGE (p:{L.Code} {{key: row.previous}})
  ON CREATE SET p.code = row.previous_code, p.system = 'icd10cm', p.load_run = $run, p:{L.ICD10CMCode}
MERGE (c:{L.Code} {{key: row.current}})
  ON CREATE SET c.code = row.current_code, c.system = 'icd10cm', c.load_run = $run, c:{L.ICD10CMCode}
MERGE (p)-[r:{R.REPLACED_BY} {{release: $release}}]->(c)
  ON CREATE SET r.load_run = $run, r.basis = 'CMS conversion table', r.effective = row.effective,
                r.source_line = row.line
"""


class Icd10cmConversionLoader:
    name = "icd10cm_conversion"
    system_name = "ICD-10-CM conversion table"

    def write(self, ctx: LoadContext) -> None:
        records, _, _ = ctx.writer.driver.execute_query(KNOWN_CODES, database_=ctx.writer.database)
        known = [r["code"] for r in records]
        rows: list[dict[str, Any]] = []
        unresolved = 0
        for path in ctx.sources:
            for conv in read_conversion_table(path):
                for first, last in conv.previous:
                    targets = [c for c in known if len(c) == len(first) and in_range(c, first, last)] if last \
                        else [first]
                    unresolved += not targets
                    rows += [{"previous": ICD10CM.key(p), "previous_code": p, "current": ICD10CM.key(conv.current),
                              "current_code": conv.current, "effective": conv.effective, "line": conv.line}
                             for p in targets]
        ctx.counts["replaced_by"] = ctx.writer.write("replaced_by", REPLACED_BY_ROWS, rows)
        ctx.counts["ranges_matching_no_code"] = unresolved


register("icd10cm_conversion")(Icd10cmConversionLoader)
