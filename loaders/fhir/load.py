"""Load FHIR R4 encounter data: patients, encounters, payers, notes with sections, and coding evidence.

A source is a Bundle JSON file, an NDJSON directory, or a directory of those (shards: ``part-00000/``, …;
each shard must hold its patients' encounters and the resources they reference). Every shard is parsed
and checked before anything of it is written; a problem anywhere fails the load whole — the staging
release and everything the run wrote are discarded — and all located problems are raised together.

Codes are checked against the graph as well as by shape (``graph_codes``): each must be in the release of
its system in force on the encounter's date; codes only shape-checked are counted as warnings.

The rows and statements of the graph written are in ``graph_rows``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

from loaders.errors import ParseError, WrongFileError
from loaders.fhir.bundle import parse_fhir_source
from loaders.fhir.graph_codes import GraphCodeCheck, dated_codes
from loaders.fhir.graph_rows import EncounterRows, write_encounter_rows
from loaders.fhir.issues import FhirIssue, FhirLocation, FhirValidationError
from loaders.fhir.records import CodeToCheck, EncounterBundle
from loaders.input_checks import note_folded
from loaders.machinery.pipeline import LoadContext
from loaders.registry import register

PARSE_WORKERS = max(1, min(4, os.cpu_count() or 1))





# ---- sources --------------------------------------------------------------------------------------------
def fhir_shards(paths: Iterable[Path]) -> list[Path]:
    """The Bundle files and NDJSON directories to parse: a directory without NDJSON files stands for the
    Bundle files and NDJSON directories directly under it."""
    shards: list[Path] = []
    for path in paths:
        if not path.is_dir() or any(path.glob("*.ndjson")):
            shards.append(path)
            continue
        inner = sorted(p for p in path.iterdir() if (p.is_dir() and any(p.glob("*.ndjson"))) or p.suffix == ".json")
        if not inner:
            raise WrongFileError(path, None, None, "NDJSON files, Bundle JSON files, or directories of NDJSON files")
        shards += inner
    return shards


@dataclass
class PreparedShard:
    """One parsed shard as the loader's own process takes it: rows for the writer, codes for the graph check.

    Built where the shard was parsed (a worker process when there are several), so that the loader's process
    only checks codes and writes; plain rows also cross the process boundary several times faster than the
    records they come from (unpickling frozen slotted dataclasses was a fifth of the loader's own CPU)."""

    rows: EncounterRows | None  # None: the shard has problems
    codes: list[tuple[CodeToCheck, date | None]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    folded: int = 0
    issues: list[FhirIssue] = field(default_factory=list)

    @classmethod
    def of(cls, bundle: EncounterBundle) -> PreparedShard:
        counts: Counter[str] = Counter()
        add_counts(counts, bundle)
        return cls(EncounterRows.of(bundle), dated_codes(bundle), counts, bundle.folded)


def _prepare(path: Path, today: date) -> PreparedShard:
    """Parse and prepare one shard; its validation problems come back as issues, other parse errors raise."""
    try:
        return PreparedShard.of(parse_fhir_source(path, today))
    except FhirValidationError as err:
        return PreparedShard(None, issues=list(err.issues))


def _prepare_shard(path: Path, today: date) -> PreparedShard:
    """Worker-side: every problem comes back as issues (exceptions with custom arguments do not pickle)."""
    try:
        return _prepare(path, today)
    except ParseError as err:
        location = FhirLocation(err.file, err.line, None, err.field or "")
        return PreparedShard(None, issues=[FhirIssue(location, err.expected, err.found)])


def prepared_shards(shards: list[Path], today: date, workers: int) -> Iterator[PreparedShard]:
    """Each shard parsed and prepared, in order; several at a time in worker processes when there are several."""
    if len(shards) == 1:  # a single source raises its own ParseError (not a Bundle, bad JSON) as it is
        yield _prepare(shards[0], today)
        return
    if workers <= 1:
        for shard in shards:
            yield _prepare_shard(shard, today)
        return
    # fork: workers inherit the imported models (spawn would re-import them, and the caller's main module).
    context = get_context("fork" if "fork" in get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: list[Future[PreparedShard]] = []
        for shard in shards:  # a bounded window keeps memory flat however many shards there are
            pending.append(pool.submit(_prepare_shard, shard, today))
            if len(pending) > 2 * workers:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


def add_counts(counts: Counter[str], bundle: EncounterBundle) -> None:
    counts["patients"] += len(bundle.patients)
    counts["encounters"] += len(bundle.encounters)
    counts["documents"] += len(bundle.documents)
    counts["sections"] += sum(len(d.sections) for d in bundle.documents)
    counts["conditions"] += len(bundle.conditions)
    counts["procedures"] += len(bundle.procedures)
    counts["observations"] += len(bundle.observations)
    counts["evidence"] += len(bundle.evidence)
    counts["codes_checked"] += len(bundle.codes_to_check)


# ---- the loader ----------------------------------------------------------------------------------------------
class FhirLoader:
    """``codegraph load fhir PATH --release <batch id>``; the API hands in sources it has already parsed."""

    name = "fhir"
    system_name = "FHIR R4 encounter data"

    # Rows of consecutive shards are written together once they reach this many: a transaction has a fixed cost
    # (a round trip and a commit) that small shards paid eight times each.
    flush_rows = 20_000

    def __init__(self, parsed: Mapping[Path, EncounterBundle] | None = None, *, today: date | None = None,
                 workers: int = PARSE_WORKERS) -> None:
        self.parsed = dict(parsed or {})
        self.today = today or date.today()
        self.workers = workers

    def write(self, ctx: LoadContext) -> None:
        checker = GraphCodeCheck(ctx.writer.driver, ctx.writer.database)
        shards = fhir_shards(ctx.sources)
        counts: Counter[str] = Counter(shards=len(shards))
        issues: list[FhirIssue] = []
        to_parse = [s for s in shards if s not in self.parsed]
        parsed = prepared_shards(to_parse, self.today, self.workers)
        pending = EncounterRows()
        for shard in shards:
            prep = PreparedShard.of(self.parsed[shard]) if shard in self.parsed else next(parsed)
            shard_issues = prep.issues
            if prep.rows is not None:
                shard_issues += checker.check(prep.codes, counts)
            issues += shard_issues
            if issues or prep.rows is None:
                continue  # keep checking the rest, so that every problem is reported at once
            pending.extend(prep.rows)
            counts.update(prep.counts)
            if prep.folded:  # parsed in a worker process, which cannot note it for the run itself
                note_folded(shard, "resource", prep.folded)
            if pending.count() >= self.flush_rows:
                write_encounter_rows(ctx, pending)
                pending = EncounterRows()
        if not issues:
            write_encounter_rows(ctx, pending)
        ctx.counts.update(counts)
        if issues:
            raise FhirValidationError(ctx.sources[0] if len(ctx.sources) == 1 else "sources", issues)


register("fhir")(FhirLoader)
