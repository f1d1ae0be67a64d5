"""Load one fiscal year's MS-DRG tables: IPPS Table 5 (weights), Table 6K (CC exclusions), 6I/6J, MDC titles.

The release is named by fiscal year (``--release FY2026``); the grouper version is derived from it
(FY − 1983: FY2026 → 43) and keys every node, so another year's tables load the same way beside it:

    (:MSDRG {key: 'v43|291', drg, version: '43', title, mdc, type, weight, weight_before_cap, gmlos, amlos,
             post_acute, special_pay})-[:IN_MDC]->(:MDC {key: 'mdc|05', mdc, title})
    (:MSDRG)-[:IN_RELEASE]->(:Release {id: 'msdrg@FY2026'})
    (:ICD10CMCode)-[:HAS_SEVERITY]->(:SeverityDesignation {key: 'v43|A00.0', code, level: CC|MCC, version,
             alive_only, excluded_in_drgs, excluded_in_drg_groups})-[:IN_RELEASE]->(:Release)
    (:SeverityDesignation)-[:EXCLUDED_WITH]->(:PDXExclusionCollection {key: 'v43|0002', collection, size})
    (:ICD10CMCode)-[:IN_COLLECTION]->(:PDXExclusionCollection)      one per Table 6K Part 1 collection member

Table 6K Part 2 (CC/MCC only if discharged alive) is ``alive_only: true`` on the designation. Part 3
(not a CC/MCC within listed DRGs) is kept as properties of the designation: ``excluded_in_drgs`` (3-character
DRGs) and ``excluded_in_drg_groups`` (the block titles, e.g. "MDC 05 DRGs 280-282 Acute Myocardial
Infarction, Discharged Alive") — a list lookup at grouping time, no extra edges. MDC nodes are shared by
every grouper version (titles from the MDC CSV, ``PRE`` is "Pre-MDC"); IN_MDC edges carry the release.

ICD-10-CM code nodes may not exist yet: they are MERGEd by key (``icd10cm|A00.0``) with the ICD10CMCode
label, and get their titles when ICD-10-CM is loaded. Files are recognised by their title line (Table 5,
6I, 6J, 6K) or, for the MDC titles, by a ``"05","Diseases and …"`` CSV shape; every file is parsed and
cross-checked (6I/6J must agree with 6K Part 1; Table 5's fiscal year with ``--release``) before the
first write.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loaders.errors import LoadError, ParseError, WrongFileError
from loaders.machinery.parse_ahead import PARSED_AHEAD
from loaders.machinery.pipeline import LoadContext
from loaders.machinery.release_nodes import release_nodes_statement
from loaders.machinery.row_layout import RowLayout
from loaders.machinery.runs import ReleaseSpec
from loaders.msdrg_tables.cc_exclusions import (
    AliveOnlyMcc,
    CcDesignation,
    DrgSpecificExclusion,
    PdxExclusionMember,
    read_cc_exclusions,
)
from loaders.msdrg_tables.cc_lists import CcListEntry, read_cc_list
from loaders.msdrg_tables.code_check import codes_absent_from_icd10cm
from loaders.msdrg_tables.common import decode, text_lines
from loaders.msdrg_tables.table5 import DrgWeightRow, read_table5
from loaders.registry import register
from ontology.code_systems import system
from ontology.vocabulary import L, R, seek_by_key

ICD10CM = system("icd10cm")
PRE_MDC_TITLE = "Pre-MDC"
SNIFF_LINES = 15
_TABLE = re.compile(r"^\W*TABLE\s+(5|6I|6J|6K)\b", re.IGNORECASE)
_FISCAL_YEAR = re.compile(r"\bFY\s?(\d{4})\b")
_MDC_NUMBER = re.compile(r"\d{1,2}")


def grouper_version(release: ReleaseSpec) -> int:
    """MS-DRG grouper version of a fiscal-year release: FY2026 → 43."""
    m = re.fullmatch(r"FY(\d{4})", release.version, flags=re.IGNORECASE)
    if m is None:
        raise LoadError(
            f"MS-DRG tables are released per fiscal year: use --release FY<yyyy> (got {release.version!r})"
        )
    return int(m.group(1)) - 1983


def drg_key(version: int | str, drg: str) -> str:
    return f"v{version}|{drg}"


def mdc_key(mdc: str) -> str:
    return f"mdc|{mdc}"


# ---- recognising and reading the files ------------------------------------------------------------
@dataclass
class MsdrgTables:
    """Everything the release says, read and checked before anything is written."""

    table5: Path | None = None
    weights: list[DrgWeightRow] = field(default_factory=list)
    fiscal_year: tuple[int, int] | None = None  # (year Table 5 names, its line)
    exclusions: Path | None = None
    designations: list[CcDesignation] = field(default_factory=list)
    members: list[PdxExclusionMember] = field(default_factory=list)
    alive_only: list[AliveOnlyMcc] = field(default_factory=list)
    drg_specific: list[DrgSpecificExclusion] = field(default_factory=list)
    cc_lists: list[tuple[Path, list[CcListEntry]]] = field(default_factory=list)
    mdc_titles: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


def _first_lines(path: Path) -> list[tuple[int, str]]:
    lines = []
    for number, text in text_lines(path):
        lines.append((number, text))
        if len(lines) >= SNIFF_LINES:
            break
    return lines


def identify(path: Path) -> str | None:
    """``table5``, ``6I``, ``6J``, ``6K``, ``mdc`` or None (not an MS-DRG table this loader reads)."""
    lines = _first_lines(path)
    first = next((text for _, text in lines if text.strip()), "")
    if m := _TABLE.match(first):
        return "table5" if m.group(1) == "5" else m.group(1).upper()
    if path.suffix.lower() == ".csv":
        rows = list(csv.reader([text for _, text in lines if text.strip()]))
        if rows and all(len(r) == 2 and _MDC_NUMBER.fullmatch(r[0].strip()) for r in rows):
            return "mdc"
    return None


def read_mdc_titles(path: Path) -> dict[str, str]:
    """MDC titles from a two-column CSV (``"05","Diseases and Disorders of the Circulatory System"``)."""
    titles: dict[str, str] = {}
    reader = csv.reader(io.StringIO(decode(path, path.read_bytes()), newline=""))
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != 2 or not _MDC_NUMBER.fullmatch(cells[0].strip()) or not cells[1].strip():
            raise ParseError(path, line, "MDC", "two cells: an MDC number (01-25) and its title", ",".join(cells))
        mdc = f"{int(cells[0]):02d}"
        if not 1 <= int(mdc) <= 25:
            raise ParseError(path, line, "MDC", "an MDC number from 01 to 25", cells[0])
        titles[mdc] = " ".join(cells[1].split())
    if not titles:
        raise ParseError(path, None, "rows", "at least one MDC row", None)
    return titles


def _table5_fiscal_year(path: Path) -> tuple[int, int] | None:
    for number, text in _first_lines(path):
        if m := _FISCAL_YEAR.search(text):
            return int(m.group(1)), number
    return None


def _files(sources: list[Path]) -> list[tuple[Path, bool]]:
    """(file, given explicitly); a directory stands for the files under it."""
    out: list[tuple[Path, bool]] = []
    for src in sources:
        if src.is_dir():
            out.extend((p, False) for p in sorted(src.rglob("*")) if p.is_file())
        else:
            out.append((src, True))
    return out


def read_tables(sources: list[Path]) -> MsdrgTables:
    tables = MsdrgTables()
    for path, explicit in _files(sources):
        kind = identify(path)
        if kind is None:
            if explicit:
                raise WrongFileError(
                    path, 1, "title",
                    "an IPPS table ('TABLE 5 …', 'TABLE 6I …', 'TABLE 6J …', 'TABLE 6K …') or an MDC titles "
                    "CSV ('\"01\",\"Diseases and Disorders of the Nervous System\"')",
                    next((t for _, t in _first_lines(path) if t.strip()), "")[:80],
                )
            tables.ignored.append(path.name)
            continue
        if kind == "table5":
            if tables.table5 is not None:
                raise LoadError(f"two Table 5 files: {tables.table5.name} and {path.name}")
            tables.table5, tables.weights = path, list(read_table5(path))
            tables.fiscal_year = _table5_fiscal_year(path)
        elif kind == "6K":
            if tables.exclusions is not None:
                raise LoadError(f"two Table 6K files: {tables.exclusions.name} and {path.name}")
            tables.exclusions = path
            for rec in read_cc_exclusions(path):
                match rec:
                    case CcDesignation():
                        tables.designations.append(rec)
                    case PdxExclusionMember():
                        tables.members.append(rec)
                    case AliveOnlyMcc():
                        tables.alive_only.append(rec)
                    case DrgSpecificExclusion():
                        tables.drg_specific.append(rec)
        elif kind in ("6I", "6J"):
            tables.cc_lists.append((path, list(read_cc_list(path, "MCC" if kind == "6I" else "CC"))))
        else:
            tables.mdc_titles.update(read_mdc_titles(path))
    return tables


def check_tables(tables: MsdrgTables, release: ReleaseSpec) -> None:
    """The release is whole and consistent: Table 5 and 6K present, years and lists agree."""
    if tables.table5 is None or tables.exclusions is None:
        missing = [name for name, p in (("Table 5 (weights)", tables.table5), ("Table 6K (CC exclusions)",
                                                                               tables.exclusions)) if p is None]
        raise LoadError(f"an MS-DRG release needs IPPS Table 5 and Table 6K; missing {', '.join(missing)}")
    wanted = int(release.version[2:])
    if tables.fiscal_year is not None and tables.fiscal_year[0] != wanted:
        year, line = tables.fiscal_year
        raise WrongFileError(tables.table5, line, "fiscal year", f"Table 5 of FY {wanted} (--release "
                             f"{release.version})", f"FY {year}")
    designated = {d.code: d for d in tables.designations}
    for path, entries in tables.cc_lists:
        for entry in entries:
            found = designated.get(entry.code)
            if found is None or found.level != entry.level:
                raise ParseError(
                    path, entry.line, "diagnosis code",
                    f"a {entry.level} that Table 6K Part 1 ({tables.exclusions.name}) also lists as {entry.level}",
                    f"{entry.code}: {found.level if found else 'not in Table 6K'}",
                )
        levels = {e.level for e in entries}
        listed = sum(1 for d in tables.designations if d.level in levels)
        if listed != len(entries):
            raise ParseError(path, None, "rows", f"the {listed} {'/'.join(levels)} codes of Table 6K Part 1",
                             f"{len(entries)} codes")


# ---- rows and statements -------------------------------------------------------------------------------
WRITE_MDCS = f"""
UNWIND $rows AS row
MERGE (m:{L.MDC} {{key: row.key}})
  ON CREATE SET m.mdc = row.mdc, m.title = row.title, m.load_run = $run
"""

WRITE_DRGS = release_nodes_statement(L.MSDRG, then=f"""
WITH node, row WHERE row.mdc_key IS NOT NULL
{seek_by_key('mdc', L.MDC, 'row.mdc_key')}
MERGE (node)-[e:{R.IN_MDC}]->(mdc)
  ON CREATE SET e.release = $release, e.load_run = $run
""")

WRITE_COLLECTIONS = f"""
UNWIND $rows AS row
MERGE (col:{L.PDXExclusionCollection} {{key: row.key}})
  ON CREATE SET col.collection = row.collection, col.version = $version, col.size = row.size, col.load_run = $run
"""

WRITE_CODES = f"""
UNWIND $rows AS row
MERGE (c:{L.Code} {{key: row.code_key}})
  ON CREATE SET c.code = row.code, c.system = $system, c.load_run = $run
SET c:{L.ICD10CMCode}
"""

# A designation that already existed came from a completed load of the same version, edges included, so the
# edges are CREATEd only for designations this run created (MERGE would re-check dense release nodes).
WRITE_DESIGNATIONS = f"""
MATCH (rel:{L.Release} {{id: $release}})
UNWIND $rows AS row
{seek_by_key('c', L.Code, 'row.code_key')}
MERGE (s:{L.SeverityDesignation} {{key: row.key}})
  ON CREATE SET s += row.props, s.load_run = $run
WITH rel, row, c, s WHERE s.load_run = $run
CREATE (c)-[:{R.HAS_SEVERITY} {{release: $release, load_run: $run}}]->(s)
CREATE (s)-[:{R.IN_RELEASE} {{release: $release, load_run: $run}}]->(rel)
WITH s, row WHERE row.collection_key IS NOT NULL
{seek_by_key('col', L.PDXExclusionCollection, 'row.collection_key')}
CREATE (s)-[:{R.EXCLUDED_WITH} {{release: $release, load_run: $run}}]->(col)
"""

# Members only go to collections this run created (CREATE, not MERGE: a dense collection makes MERGE slow);
# a collection that already existed came from a completed load of the same version, members included.
MEMBER_LAYOUT = RowLayout(("code_key", "collection_key", "line"))
WRITE_MEMBERS = f"""
{MEMBER_LAYOUT.unwind()}
// A batch's rows grouped by collection first: one seek of the collection (and of its load_run) per collection of
// the batch (~170 of 5,000 rows), not per row. Pinned to the plan a warm server picks (the unique key seek, then
// the run filter): a fresh server has no sample of the new load_run index yet and must not seek by it instead.
WITH row.collection_key AS collection_key, collect(row.code_key) AS code_keys
{seek_by_key('col', L.PDXExclusionCollection, 'collection_key')}
WHERE col.load_run = $run
UNWIND code_keys AS code_key
{seek_by_key('c', L.Code, 'code_key')}
CREATE (c)-[:{R.IN_COLLECTION} {{release: $release, load_run: $run}}]->(col)
"""
# 180k member edges out of 26k codes into 2k collections: rows go in code order, so two sessions' batches share
# no code node (a relationship insert locks a sparse node; the big collections are dense and take concurrent
# inserts). Measured on the FY2026 tables: see bench/RESULTS.md (MS-DRG members).
MEMBER_SESSIONS = 2


def drg_row(row: DrgWeightRow, version: int) -> dict[str, Any]:
    props = {
        "drg": row.drg, "version": str(version), "title": row.title, "mdc": row.mdc,
        "type": row.drg_type if row.drg_type != "**" else None, "weight": row.weight,
        "weight_before_cap": row.weight_before_cap, "gmlos": row.gmlos, "amlos": row.amlos,
        "post_acute": row.post_acute, "special_pay": row.special_pay,
    }
    return {"key": drg_key(version, row.drg), "props": {k: v for k, v in props.items() if v is not None},
            "mdc_key": mdc_key(row.mdc) if row.mdc else None}


def designation_rows(tables: MsdrgTables, version: int) -> list[dict[str, Any]]:
    alive_only = {r.code for r in tables.alive_only}
    drgs: dict[str, set[str]] = defaultdict(set)
    groups: dict[str, set[str]] = defaultdict(set)
    for r in tables.drg_specific:
        drgs[r.code].update(r.drgs)
        groups[r.code].add(f"MDC {r.mdc} DRGs {r.drgs[0]}-{r.drgs[-1]} {r.drg_group}")
    rows = []
    for d in tables.designations:
        props = {
            "code": d.code, "level": d.level, "version": str(version), "alive_only": d.code in alive_only,
            "description": d.description, "collection": d.collection,
            "excluded_in_drgs": sorted(drgs[d.code]) or None, "excluded_in_drg_groups": sorted(groups[d.code]) or None,
        }
        rows.append({
            "key": drg_key(version, d.code), "code_key": ICD10CM.key(d.code), "code": d.code,
            "props": {k: v for k, v in props.items() if v is not None},
            "collection_key": drg_key(version, d.collection) if d.collection else None,
        })
    return rows


class MsdrgLoader:
    name = "msdrg"
    system_name = "MS-DRG (CMS IPPS tables)"

    def prepare(self, paths: list[Path]) -> None:
        """Read the tables ahead of the load (``parse_ahead``): Table 6K alone is 17 MB of text."""
        PARSED_AHEAD.submit("msdrg tables", read_tables, paths)

    def write(self, ctx: LoadContext) -> None:
        version = grouper_version(ctx.release)
        tables = PARSED_AHEAD.take("msdrg tables", read_tables, ctx.sources)
        check_tables(tables, ctx.release)
        writer, counts = ctx.writer, ctx.counts
        counts["grouper_version"] = version
        listed = {d.code for d in tables.designations} | {m.pdx_code for m in tables.members} | {
            e.code for _, entries in tables.cc_lists for e in entries} | {
            r.code for r in (*tables.alive_only, *tables.drg_specific)}
        checked = codes_absent_from_icd10cm(writer.driver, writer.database, version + 1983, listed)
        if checked is not None:
            counts[f"codes_not_in {checked[0]}"] = len(checked[1])
        if tables.ignored:
            counts["ignored_files"] = ", ".join(tables.ignored)
        writer.run(
            "release note",
            f"MATCH (r:{L.Release} {{id: $release}}) SET r.grouper_version = $version, r.note = $note",
            {"version": str(version), "note": f"MS-DRG grouper version {version} (CMS IPPS FY{ctx.release.version[2:]} "
                                              f"Tables 5 and 6K)"},
        )

        mdcs = sorted({r.mdc for r in tables.weights if r.mdc} | set(tables.mdc_titles))
        mdc_rows = [{"key": mdc_key(m), "mdc": m,
                     "title": PRE_MDC_TITLE if m == "PRE" else tables.mdc_titles.get(m, f"MDC {m}")} for m in mdcs]
        counts["mdcs"] = writer.write("MDCs", WRITE_MDCS, mdc_rows)
        counts["drgs"] = writer.write("MS-DRGs", WRITE_DRGS, (drg_row(r, version) for r in tables.weights),
                                      describe_row=lambda r: f"MS-DRG {r['props']['drg']}")
        counts["drgs_with_weight"] = sum(r.weight is not None for r in tables.weights)

        sizes: dict[str, int] = defaultdict(int)
        for m in tables.members:
            sizes[m.collection] += 1
        collection_rows = [{"key": drg_key(version, c), "collection": c, "size": n} for c, n in sorted(sizes.items())]
        counts["pdx_collections"] = writer.write("PDX collections", WRITE_COLLECTIONS, collection_rows,
                                                 params={"version": str(version)})
        codes = sorted({d.code for d in tables.designations} | {m.pdx_code for m in tables.members})
        counts["icd10cm_codes"] = writer.write(
            "ICD-10-CM codes", WRITE_CODES, ({"code_key": ICD10CM.key(c), "code": c} for c in codes),
            params={"system": ICD10CM.id},
        )
        counts["designations"] = writer.write(
            "CC/MCC designations", WRITE_DESIGNATIONS, designation_rows(tables, version),
            describe_row=lambda r: f"designation {r['code']}",
        )
        counts["designations_mcc"] = sum(d.level == "MCC" for d in tables.designations)
        counts["designations_cc"] = sum(d.level == "CC" for d in tables.designations)
        counts["designations_no_exclusion"] = sum(d.collection is None for d in tables.designations)
        counts["alive_only"] = len(tables.alive_only)
        counts["drg_specific_exclusions"] = len(tables.drg_specific)
        # Part 2/3 rows naming a code that Part 1 does not designate change nothing (none in FY2026): counted only.
        designated = {d.code for d in tables.designations}
        counts["part2_3_codes_not_designated"] = len(
            {r.code for r in (*tables.alive_only, *tables.drg_specific)} - designated)

        started = time.perf_counter()
        members = sorted(
            ({"code_key": ICD10CM.key(m.pdx_code), "collection_key": drg_key(version, m.collection),
              "line": m.line} for m in tables.members),
            key=lambda r: r["code_key"],
        )
        counts["pdx_members"] = writer.write(
            "PDX collection members", WRITE_MEMBERS, members, layout=MEMBER_LAYOUT,
            sessions=MEMBER_SESSIONS if len(members) > writer.batch_size else 1,
            describe_row=lambda r: f"{tables.exclusions.name}:{r['line']} ({r['code_key']})",  # type: ignore[union-attr]
        )
        seconds = time.perf_counter() - started
        counts["pdx_members_rows_per_s"] = round(counts["pdx_members"] / seconds) if seconds else None


register("msdrg")(MsdrgLoader)
