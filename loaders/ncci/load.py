"""Load a quarterly NCCI release: procedure-to-procedure edits (``ncci_ptp``) and MUEs (``ncci_mue``).

    (:Code)-[:BUNDLES {setting, effective, deletion, modifier_indicator, rationale, prior_1996, release, until,
                       load_run, closed_by}]->(:Code)
    (:Code)-[:HAS_MUE {release}]->(:MUE {key: release|setting|code, value, mai, …})-[:IN_RELEASE]->(:Release)

A release is one quarter (``--release 2026Q1``; a suffix names a correction, ``2026Q1r1``): its window is the
quarter, so the release in force on a date of service is found like any other. One BUNDLES relationship per
(column 1, column 2, setting, effective date) of the release: a pair edited over several windows keeps one per
window. Codes are CPT or HCPCS Level II by shape; a code no code release has loaded yet gets its node here.

An edge is stored once over a range of releases (``release`` … ``until``, see ``loaders.ncci.ptp_ranges``): the
next quarter reads the edits valid in the previous one, compares them with its file in memory and writes only
the new and changed edits and the ``until`` of the dropped and changed ones.

The first release (or a back-filled older one) writes every row, streaming: the file is parsed while two writer
sessions write the batches before, each batch first adds the codes it is the first to name, then CREATEs its
edges (duplicates are dropped in Python). Loading a visible release again stays idempotent: a chain release's
edits are compared with the files, a back-filled one MERGEs.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from loaders.errors import LoadError
from loaders.machinery.background import in_background
from loaders.machinery.gc_pause import gc_paused
from loaders.machinery.pipeline import LoadContext
from loaders.machinery.release_chain import CHAIN, PTP_CHAIN, ChainPlan
from loaders.machinery.row_layout import RowLayout
from loaders.machinery.runs import ReleaseSpec
from loaders.machinery.writer import batched
from loaders.ncci import ptp_ranges
from loaders.ncci.common import NcciSetting
from loaders.ncci.mue import MueEdit, read_mue
from loaders.ncci.ptp import PtpEdit, PtpRepeats, read_ptp, setting_from_name
from loaders.registry import register
from ontology.code_systems import CodeSystem, system
from ontology.vocabulary import L, R, seek_by_key

CPT = system("cpt")
HCPCS = system("hcpcs")
_HCPCS_SHAPE = re.compile(r"[A-Z]\d{4}")
_QUARTER = re.compile(r"(\d{4})Q([1-4])(?:[-_.]?[0-9A-Za-z]+)?", re.IGNORECASE)
# NCCI file names carry the version (v321r0: 32 → 2026, .1 → April); MUE names the effective date.
_PTP_NAME_VERSION = re.compile(r"v(\d{2})(\d)r\d", re.IGNORECASE)
_MUE_NAME_DATE = re.compile(r"Eff_(\d{2})-01-(\d{4})", re.IGNORECASE)
# Edge batches go to two sessions: one is packed and sent while the server writes the other. Batches follow the
# table's column-1 order, so they share few nodes; a deadlock on a shared column-2 code is retried by the driver.
PTP_SESSIONS = 2


def quarter_window(version: str) -> tuple[date, date]:
    """``2026Q1`` → (2026-01-01, 2026-04-01): the quarter a release is in force, end exclusive.

    A suffix (``2026Q1r1``, a correction) keeps its quarter's window; anything else is refused.
    """
    match = _QUARTER.fullmatch(version.strip())
    if match is None:
        raise LoadError(f"NCCI releases are quarterly: give the release as YYYYQn (e.g. 2026Q1), not {version!r}")
    quarter = ReleaseSpec.parse("ncci", f"{match.group(1)}Q{match.group(2)}")
    assert quarter.effective_from is not None and quarter.effective_to is not None
    return quarter.effective_from, quarter.effective_to


def procedure_system(code: str) -> CodeSystem:
    """HCPCS Level II is a letter and four digits; everything else on an NCCI table is CPT."""
    return HCPCS if _HCPCS_SHAPE.fullmatch(code) else CPT


@lru_cache(maxsize=65536)
def procedure_key(code: str) -> str:
    """Cached: a quarter's millions of rows name a few thousand codes."""
    return procedure_system(code).key(code)


def _name_quarter(path: Path) -> str | None:
    """The quarter a CMS file name states, when it states one."""
    if m := _PTP_NAME_VERSION.search(path.name):
        return f"{1994 + int(m.group(1))}Q{int(m.group(2)) + 1}"
    if m := _MUE_NAME_DATE.search(path.name):
        return f"{m.group(2)}Q{(int(m.group(1)) - 1) // 3 + 1}"
    return None


def _source_files(sources: list[Path], wanted: str, belongs: Callable[[Path], bool]) -> list[Path]:
    """The files given; a directory (an unpacked CMS download) stands for its files of this kind, in name order."""
    files: list[Path] = []
    for src in sources:
        files += sorted(p for p in src.rglob("*") if p.is_file() and belongs(p)) if src.is_dir() else [src]
    if not files:
        raise LoadError(f"no {wanted} file given (looked in {[str(s) for s in sources]})")
    return files


def _is_ptp_table(path: Path) -> bool:
    return path.suffix.lower() == ".txt" and setting_from_name(path) is not None


def _is_mue_table(path: Path) -> bool:
    return path.suffix.lower() == ".csv" and "mue" in path.name.lower()


# ---- shared: the release window and the code nodes ------------------------------------------------------
def _code_statement(cs: CodeSystem) -> str:
    # Only a node this run creates gets a label here; a node a code release wrote is left as it is.
    return f"""
    UNWIND $rows AS row
    MERGE (c:{L.Code} {{key: row.key}})
      ON CREATE SET c.code = row.code, c.system = $system, c.load_run = $run, c:`{cs.label}`
    """


class _Codes:
    """Adds each code's node the first time a batch names it (one MERGE per code per load)."""

    def __init__(self, ctx: LoadContext) -> None:
        self.ctx = ctx
        self.seen: set[str] = set()

    def ensure(self, keys: Iterable[str]) -> None:
        """``keys``: code keys as ``procedure_key`` makes them (``cpt|27447``, ``hcpcs|G0289``)."""
        new = sorted(set(keys) - self.seen)
        if not new:
            return
        self.seen.update(new)
        for cs in (CPT, HCPCS):
            prefix = f"{cs.id}|"
            rows = [{"key": k, "code": k.removeprefix(prefix)} for k in new if k.startswith(prefix)]
            if rows:  # one statement, not a batched write: a few thousand codes at most, and no progress bar each
                self.ctx.writer.run(f"{cs.id} codes named by NCCI", _code_statement(cs),
                                    {"rows": rows, "system": cs.id})


def _set_window(ctx: LoadContext) -> tuple[date, date]:
    # The machinery already windows a plain ``2026Q1``; a corrected ``2026Q1r1`` gets its quarter here.
    start, end = quarter_window(ctx.release.version)
    ctx.writer.run("release window", f"""
        MATCH (r:{L.Release} {{id: $release}})
        SET r.effective_from = $start, r.effective_to = $end, r.coverage = 'full'
        """, {"start": start, "end": end})
    return start, end


def _warn_on_file_names(ctx: LoadContext, files: list[Path]) -> None:
    start, _ = quarter_window(ctx.release.version)
    named = {f.name: q for f in files if (q := _name_quarter(f)) is not None}
    wanted = f"{start.year}Q{(start.month - 1) // 3 + 1}"
    odd = {name: q for name, q in named.items() if q != wanted}
    if odd:
        ctx.counts["warnings"] = [f"{name} names {q}, loaded as {wanted}" for name, q in sorted(odd.items())]


# ---- PTP ------------------------------------------------------------------------------------------------
# Rows travel as lists; dates as ISO text, parsed by the server (the driver's date packing is pure Python).
PTP_LAYOUT = RowLayout(("column1", "column2", "setting", "effective", "deletion", "modifier_indicator",
                        "rationale", "prior_1996"))
_EDGE_PROPS = """setting: row.setting, effective: date(row.effective), deletion: date(row.deletion),
      modifier_indicator: row.modifier_indicator, rationale: row.rationale, prior_1996: row.prior_1996"""

# A batch is grouped by column-1 code inside the statement (the tables are sorted by it): one index seek per
# column-1 code of the batch instead of one per edge.
CREATE_PTP = f"""
{PTP_LAYOUT.unwind()}
WITH row.column1 AS column1, collect(row) AS edges
{seek_by_key('a', L.Code, 'column1')}
UNWIND edges AS row
{seek_by_key('b', L.Code, 'row.column2')}
CREATE (a)-[:{R.BUNDLES} {{{_EDGE_PROPS}, release: $release, load_run: $run}}]->(b)
"""

MERGE_PTP = f"""
{PTP_LAYOUT.unwind()}
{seek_by_key('a', L.Code, 'row.column1')}
{seek_by_key('b', L.Code, 'row.column2')}
MERGE (a)-[e:{R.BUNDLES} {{setting: row.setting, effective: date(row.effective), release: $release}}]->(b)
  ON CREATE SET e += {{deletion: date(row.deletion), modifier_indicator: row.modifier_indicator,
                      rationale: row.rationale, prior_1996: row.prior_1996}}, e.load_run = $run
"""


class PtpWireRow(list[Any]):
    """An edit as the driver packs it (``PTP_LAYOUT``'s order, so the writer sends it as it is) and, for a located
    error only, where it is in its file: built once per row, no map in between (half the loader's CPU per row)."""

    __slots__ = ("where",)
    where: tuple[str, int]


def ptp_wire_row(edit: PtpEdit) -> PtpWireRow:
    row = PtpWireRow((procedure_key(edit.column1), procedure_key(edit.column2), edit.setting.value,
                      _iso(edit.effective), _iso(edit.deletion) if edit.deletion else None,
                      edit.modifier_indicator, edit.rationale, edit.prior_1996))
    row.where = (edit.file, edit.line)
    return row


def ptp_row(edit: PtpEdit) -> dict[str, Any]:
    """The edge's fields by name (``PTP_LAYOUT``) and where the row is: the diff's rows, a few thousand."""
    wire = ptp_wire_row(edit)
    return {**dict(zip(PTP_LAYOUT.fields, wire, strict=True)), "where": wire.where}


def _where(row: PtpWireRow | dict[str, Any]) -> str:
    file, line = row.where if isinstance(row, PtpWireRow) else row["where"]
    return f"{Path(file).name}:{line}"


class NcciPtpLoader:
    name = "ncci_ptp"
    system_name = "NCCI procedure-to-procedure edits"

    def write(self, ctx: LoadContext) -> None:
        files = _source_files(ctx.sources, "NCCI PTP table (ccipra…/ccioph….txt)", _is_ptp_table)
        for path in files:
            if setting_from_name(path) is None:
                raise LoadError(f"{path}: not an NCCI PTP table name (ccipra… practitioner, ccioph… outpatient "
                                "hospital); the setting comes from the name")
        start, _ = _set_window(ctx)
        _warn_on_file_names(ctx, files)
        driver, database = ctx.writer.driver, ctx.writer.database
        chain = PTP_CHAIN
        chosen = chain.plan(driver, database, ptp_ranges.SYSTEM, ctx.release.id, start, ctx.fresh_release)
        chain.record(driver, database, ctx.release.id, chosen)
        codes = _Codes(ctx)
        per_setting: Counter[str] = Counter()
        per_indicator: Counter[int] = Counter()
        duplicates = 0
        repeats = PtpRepeats()

        def edits() -> Iterator[PtpEdit]:
            nonlocal duplicates
            for path in files:
                for edit in read_ptp(path):
                    # One edge per window: the release's identity of an edit row. An identical repeat is dropped,
                    # counted; a conflicting one (other deletion date or indicator) ends the load.
                    if not repeats.first(edit):
                        duplicates += 1
                        continue
                    per_setting[edit.setting.value] += 1
                    per_indicator[edit.modifier_indicator] += 1
                    yield edit

        counts = ctx.counts
        counts["ptp_layout"] = chosen.kind
        if chosen.kind == "diff":
            assert chosen.previous is not None
            self._write_differences(ctx, codes, chosen, edits())
        elif chosen.kind == "reload" and chosen.layout == CHAIN:
            # A chain release's edges carry the later quarters' ranges: they are compared, never rewritten.
            if not ptp_ranges.same_edits(ptp_ranges.valid_edits(driver, database, ctx.release.id), keyed(edits())):
                raise LoadError(f"{ctx.release.id} already holds other PTP edits than these files; retract it and "
                                "load the corrected files under the same id")
        else:
            def with_codes() -> Iterator[PtpWireRow]:
                # Parsed while the writer's sessions write; each batch's new codes get their nodes before its rows
                # reach the writer.
                for batch in batched(map(ptp_wire_row, edits()), ctx.writer.batch_size):
                    codes.ensure(key for row in batch for key in row[:2])  # column 1 and column 2 keys
                    yield from batch

            statement = CREATE_PTP if ctx.fresh_release else MERGE_PTP
            # No cyclic collection while the release's repeat check holds an entry per edit.
            with gc_paused():
                counts["ptp_written"] = ctx.writer.write(
                    "ptp edges", statement, with_codes(), layout=PTP_LAYOUT, sessions=PTP_SESSIONS,
                    describe_row=lambda r: f"the edit at {_where(r)}")
        counts["edits"] = sum(per_setting.values())
        counts.update({f"edits_{setting}": n for setting, n in sorted(per_setting.items())})
        counts.update({f"indicator_{i}": n for i, n in sorted(per_indicator.items())})
        counts["duplicate_rows_dropped"] = duplicates
        counts["codes"] = len(codes.seen)

    @staticmethod
    def _write_differences(ctx: LoadContext, codes: _Codes, chosen: ChainPlan,
                           edits: Iterator[PtpEdit]) -> None:
        """The edits valid in the previous release, compared with the file: only the changes are written."""
        assert chosen.previous is not None
        stats = ctx.writer.stats
        # The server reads the previous quarter while this thread parses the file.
        t0 = time.perf_counter()
        with gc_paused():
            previous_edits = in_background(partial(ptp_ranges.valid_edits, ctx.writer.driver, ctx.writer.database,
                                                    chosen.previous), f"read {chosen.previous}")
            parsed = list(keyed(edits))
            stats.add_time("ptp parse", time.perf_counter() - t0)
            t1 = time.perf_counter()
            previous = previous_edits()
            stats.add_time("ptp read previous (after the parse)", time.perf_counter() - t1)
            t1 = time.perf_counter()
            changes = ptp_ranges.diff(previous, parsed, ptp_row)
            del parsed
            stats.add_time("ptp diff", time.perf_counter() - t1)
        codes.ensure(key for row in changes.create for key in (row["column1"], row["column2"]))
        closed = ctx.writer.write(
            "ptp closed", ptp_ranges.CLOSE_PTP, changes.close, params={"scope": chosen.scope[:-1]},
            describe_row=lambda r: f"the edit {r['column1']}/{r['column2']} {r['setting']} effective {r['effective']}")
        written = ctx.writer.write("ptp edges", CREATE_PTP, changes.create, layout=PTP_LAYOUT,
                                   sessions=PTP_SESSIONS, describe_row=lambda r: f"the edit at {_where(r)}")
        ctx.counts.update({
            "ptp_previous": chosen.previous, "ptp_written": written, "ptp_closed": closed,
            "ptp_added": changes.added, "ptp_changed": changes.changed, "ptp_dropped": changes.dropped,
            "ptp_unchanged": changes.unchanged,
        })
        if chosen.upgraded:
            ctx.counts["ptp_upgraded"] = chosen.upgraded


@lru_cache(maxsize=4096)
def _iso(day: date) -> str:
    """Cached: a table's ~500k rows carry a few hundred distinct dates."""
    return day.isoformat()


def keyed(edits: Iterable[PtpEdit]) -> Iterator[ptp_ranges.Keyed]:
    """Each edit as the diff compares it: (identity, values, the edit), in ``ptp_row``'s forms."""
    for e in edits:
        yield ((procedure_key(e.column1), procedure_key(e.column2), e.setting.value, _iso(e.effective)),
               (_iso(e.deletion) if e.deletion else None, e.modifier_indicator, e.rationale, e.prior_1996), e)


# ---- MUE ------------------------------------------------------------------------------------------------
WRITE_MUE = f"""
MATCH (rel:{L.Release} {{id: $release}})
UNWIND $rows AS row
{seek_by_key('c', L.Code, 'row.code_key')}
MERGE (m:{L.MUE} {{key: row.key}})
  ON CREATE SET m.code = row.code, m.setting = row.setting, m.value = row.value, m.mai = row.mai,
                m.mai_text = row.mai_text, m.rationale = row.rationale, m.release = $release, m.load_run = $run
MERGE (c)-[h:{R.HAS_MUE}]->(m)
  ON CREATE SET h.release = $release, h.load_run = $run
MERGE (m)-[i:{R.IN_RELEASE}]->(rel)
  ON CREATE SET i.release = $release, i.load_run = $run
"""


def mue_key(release_id: str, setting: NcciSetting | str, code: str) -> str:
    return f"{release_id}|{NcciSetting(setting).value}|{code}"


def mue_row(release_id: str, edit: MueEdit) -> dict[str, Any]:
    return {
        "key": mue_key(release_id, edit.setting, edit.code), "code": edit.code,
        "code_key": procedure_key(edit.code), "setting": edit.setting.value, "value": edit.value,
        "mai": edit.mai, "mai_text": edit.mai_text, "rationale": edit.rationale,
        "where": f"{Path(edit.file).name}:{edit.line}",
    }


class NcciMueLoader:
    name = "ncci_mue"
    system_name = "NCCI medically unlikely edits"

    def write(self, ctx: LoadContext) -> None:
        files = _source_files(ctx.sources, "NCCI MUE CSV (…MUE….csv)", _is_mue_table)
        _set_window(ctx)
        _warn_on_file_names(ctx, files)
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for path in files:  # a few thousand rows per setting: checked whole before the first write
            for edit in read_mue(path):
                row = mue_row(ctx.release.id, edit)
                if row["key"] in seen:
                    raise LoadError(f"{row['where']}: a second MUE for {edit.code} in the {edit.setting.value} "
                                    "table of this release")
                seen.add(row["key"])
                rows.append(row)
        _Codes(ctx).ensure(row["code_key"] for row in rows)
        ctx.writer.write("mue", WRITE_MUE, rows, describe_row=lambda r: f"the MUE at {r['where']}")
        counts = ctx.counts
        counts["mues"] = len(rows)
        counts.update({f"mues_{s}": n for s, n in sorted(Counter(r["setting"] for r in rows).items())})
        counts.update({f"mai_{m}": n for m, n in sorted(Counter(r["mai"] for r in rows).items())})


register("ncci_ptp")(NcciPtpLoader)
register("ncci_mue")(NcciMueLoader)
