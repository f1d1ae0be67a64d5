"""Run one load end to end: check, stage, write, diff, promote — or leave the graph as it was."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from neo4j import Driver

from loaders.errors import LoadError
from loaders.input_checks import counting_folds
from loaders.machinery import interrupts
from loaders.machinery.gates import PromotionGates, ReleaseHeldError
from loaders.machinery.runs import (
    RETRACTED,
    VISIBLE,
    LoadInterruptedError,
    ReleaseSpec,
    RunLedger,
    SourceFile,
    new_run_id,
    same_contents,
)
from loaders.machinery.unreachable import unreachable_error
from loaders.machinery.writer import GraphWriter, WriteStats
from ontology.schema import await_text_index


@dataclass
class LoadContext:
    """What a loader gets: the writer (stamped with run and release) and the release it fills."""

    writer: GraphWriter
    release: ReleaseSpec
    run_id: str
    sources: list[Path]
    counts: dict[str, Any] = field(default_factory=dict)
    # The release was created by this run (not a visible release loaded again from the same files): nothing
    # in the graph belongs to it yet, so its memberships and edges can be CREATEd rather than MERGEd.
    fresh_release: bool = False
    # Run once the loader's write is done, before the writer closes (a chain release's held rows: code_ranges).
    before_close: list[Callable[[], None]] = field(default_factory=list)
    # State the shared machinery keeps for the run (``code_release``'s held rows).
    extensions: dict[str, Any] = field(default_factory=dict)


class Loader(Protocol):
    """A source loader: parses its files and writes rows through the shared writer."""

    name: str  # e.g. "icd10cm"; also the release system id
    system_name: str  # e.g. "ICD-10-CM"

    def write(self, ctx: LoadContext) -> None: ...


class AfterStaging(Protocol):
    """Hook run once the release is staged, before promotion (diff, impact); may read the graph."""

    def __call__(self, driver: Driver, database: str, ctx: LoadContext) -> dict[str, Any]: ...


@dataclass
class LoadReport:
    run_id: str
    release: str
    status: str  # completed | dry_run | unchanged (the same files again: nothing done) | held (a gate refused)
    stats: WriteStats
    counts: dict[str, Any]
    seconds: float
    report: dict[str, Any] = field(default_factory=dict)
    # seconds: write, after_staging, promote (of which text_index: waiting for the full-text index to catch up)
    phases: dict[str, float] = field(default_factory=dict)


class ReleaseConflictError(LoadError):
    """The release is already visible with different source files."""


def run_load(
    driver: Driver,
    database: str,
    loader: Loader,
    sources: list[Path],
    release: ReleaseSpec,
    *,
    batch_size: int = 5000,
    dry_run: bool = False,
    show_progress: bool = False,
    after_staging: AfterStaging | None = None,
    gates: PromotionGates | None = None,
    log: Callable[[str], None] = lambda _msg: None,
) -> LoadReport:
    """Load ``sources`` as ``release``; visible only if everything succeeded, the ``gates`` (judging the
    after-staging report) passed, and not a dry run. Ctrl-C removes what the run wrote and raises
    ``LoadInterruptedError``; the very files of a visible release again are a no-op (status ``unchanged``)."""
    ledger = RunLedger(driver, database)
    for stale in ledger.stale_runs():
        log(f"cleaning up crashed run {stale}")
        ledger.discard_run(stale)
        ledger.finish(stale, "failed", {}, error="process died; cleaned up by a later load")

    for path in sources:
        if not path.exists():
            raise LoadError(f"{path}: no such file or directory")
    files = [SourceFile.of(p) for p in _expand(sources)]
    existing = ledger.release_state(release.id)
    if existing and existing["status"] == VISIBLE:
        previous = {d for run_files in existing["files"] for d in (run_files or [])}
        if previous and same_contents(previous, files) and existing["last_run"]:
            log(f"{release.id} is already visible from these very files (sha256): nothing to do")
            return LoadReport(run_id=existing["last_run"], release=release.id, status="unchanged", stats=WriteStats(),
                              counts={}, seconds=0.0)
        if previous and previous != {f.describe() for f in files}:
            raise ReleaseConflictError(
                f"release {release.id} is already visible from other source files; to replace it, retract it "
                f"(`codegraph release retract {release.system} {release.version}`) and load the corrected files "
                "under the same id"
            )
    if existing and existing["status"] == RETRACTED:
        from loaders.machinery.lifecycle import archive

        log(f"{release.id} was retracted: kept for audit as {archive(driver, database, release.id)}")

    run_id = new_run_id(loader.name)
    ledger.start(run_id, loader.name, release, files)
    started = time.perf_counter()
    writer = GraphWriter(
        driver, database, run_id=run_id, release_id=release.id, batch_size=batch_size,
        show_progress=show_progress,
    )
    ctx = LoadContext(writer=writer, release=release, run_id=run_id, sources=sources)
    try:
        with interrupts.remembered():
            ctx.fresh_release = ledger.stage_release(run_id, release, loader.system_name)
            with writer, counting_folds() as folded:
                loader.write(ctx)
                for finish in ctx.before_close:
                    finish()
            # Identical repeats the parsers dropped, per file and record: shown with the run's counts.
            ctx.counts.update({f"identical repeats folded ({where})": n for where, n in sorted(folded.items())})
            phases = {"write": time.perf_counter() - started}
            report = after_staging(driver, database, ctx) if after_staging else {}
            phases["after_staging"] = time.perf_counter() - started - phases["write"]
            if gates is not None and report.get("diff") is not None:
                report["gates"] = gates.judge(report)
            interrupts.check()
    except BaseException as exc:
        if (lost := unreachable_error(exc, writer, release)) is not None:
            raise lost from None  # the next load removes this run's rows (stale_runs); nothing to clean up now
        interrupted = isinstance(exc, KeyboardInterrupt)
        ledger.discard_run(run_id)  # a second Ctrl-C here leaves it to the next load (stale_runs)
        ledger.finish(run_id, "interrupted" if interrupted else "failed", ctx.counts,
                      error="interrupted (Ctrl-C)" if interrupted else str(exc)[:2000])
        if interrupted:
            raise LoadInterruptedError(
                f"load of {release.id} interrupted: the batch in flight was rolled back, what run {run_id} had "
                "written was removed, and the run is recorded as interrupted; the graph is as it was"
            ) from None
        raise
    counts = {**ctx.counts, **writer.stats.as_properties()}
    if not dry_run and report.get("gates", {}).get("verdict") == "held":
        ledger.discard_run(run_id)
        ledger.finish(run_id, "held", counts, error="; ".join(report["gates"]["reasons"]))
        held = LoadReport(run_id=run_id, release=release.id, status="held", stats=writer.stats, counts=counts,
                          seconds=time.perf_counter() - started, report=report, phases=phases)
        raise ReleaseHeldError(
            f"{release.id} was staged and NOT promoted: {'; '.join(report['gates']['reasons'])}. Check the files "
            "(cut short? another system's?); if the change is real, load again with --force", held)
    if dry_run:
        ledger.discard_run(run_id)
        ledger.finish(run_id, "dry_run", counts)
        status = "dry_run"
    else:
        promoting = time.perf_counter()
        # The full-text index trails commits (it is eventually consistent), and it is one index for every load:
        # a release is made visible once it is searchable, and the wait is reported, since a big load running
        # beside this one lengthens it. Not before the diff (which reads no text) nor for a dry run.
        phases["text_index"] = _timed(await_text_index, driver, database)
        ledger.promote(release)
        after_promote = getattr(loader, "after_promote", None)
        if after_promote is not None:
            after_promote(ctx)  # denormalised views of the newest visible release (node titles)
            # searchable with the new titles when the load returns
            phases["text_index"] += _timed(await_text_index, driver, database)
        phases["promote"] = time.perf_counter() - promoting
        ledger.finish(run_id, "completed", counts)
        status = "completed"
    return LoadReport(
        run_id=run_id, release=release.id, status=status, stats=writer.stats, counts=counts,
        seconds=time.perf_counter() - started, report=report, phases=phases,
    )


def _timed(wait: Callable[[Driver, str], None], driver: Driver, database: str) -> float:
    started = time.perf_counter()
    wait(driver, database)
    return time.perf_counter() - started


def _expand(sources: list[Path]) -> list[Path]:
    """Files for provenance: a directory stands for every file under it."""
    out: list[Path] = []
    for src in sources:
        out.extend(sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src])
    return out
