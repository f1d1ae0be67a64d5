"""The demo's loads as a plan of steps with dependencies, run a few at a time with progress on screen.

Separate releases do not conflict: each load stages its own Release and LoadRun, and the ledger's stale-run
clean-up only touches runs whose process is gone. What two loads can share is code nodes: ICD-10-CM codes
are merged by the MS-DRG, SNOMED CT map, coverage and encounter loads; CPT/HCPCS codes by the NCCI and
coverage loads. So a step waits for the loads that create the codes it merges (and for the older releases
of its own system, so diffs have both sides), and the steps that link ICD-10-CM codes run one after another
(concurrent relationship inserts on the same nodes deadlock and are retried). Everything else overlaps.

While steps run, a status line every few seconds says what is loading, how long it has taken, how the graph
grows (node and relationship totals from Neo4j's count store: O(1) to read) and an estimate of the time left
(the remaining critical path of a reference run, scaled by this machine's pace so far). On a terminal that
status is a progress bar instead (steps done of the total, what is loading, the estimate), under the start and
done lines; in a log (no terminal) it stays a plain line every few seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from neo4j import Driver
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from loaders.bundled import BundledDataset

# What each source's load merges or links, by source: a step runs after every earlier step (in the bundled
# order) of these sources. The ICD-10-CM linkers (MCD, payer rules, MS-DRG, SNOMED CT map) form one chain: with
# the three small ones beside MS-DRG instead, MS-DRG took 1-3 s longer and FHIR started no sooner (the cores are
# busy either way, and a batch of theirs lost a lock conflict to MS-DRG's; bench/RESULTS.md, session 17).
AFTER_SOURCES: dict[str, frozenset[str]] = {
    "icd10cm": frozenset({"icd10cm"}),
    "icd10pcs": frozenset({"icd10pcs"}),
    "hcpcs": frozenset({"hcpcs"}),
    "cpt": frozenset({"cpt"}),
    "mcd": frozenset({"icd10cm", "hcpcs", "cpt"}),
    "payer_rules": frozenset({"icd10cm", "icd10pcs", "hcpcs", "cpt", "mcd"}),
    "msdrg": frozenset({"icd10cm", "mcd", "payer_rules"}),
    "ncci_ptp": frozenset({"hcpcs", "cpt"}),
    "ncci_mue": frozenset({"hcpcs", "cpt", "ncci_ptp"}),
    "snomed": frozenset({"icd10cm", "msdrg"}),
}

# A system's first release waits for the first release of these: ICD-10-CM FY2024 and ICD-10-PCS FY2024 each write
# ~75k new code nodes, and on a cold server two such loads at once took twice as long each (38 and 43 s against
# 18 and 15 s one after the other), holding back the ICD-10-CM chain every later step waits for. PCS then runs beside
# the later ICD-10-CM releases, which write memberships onto existing nodes and leave a core idle
# (bench/RESULTS.md, session 16: the ICD-10-CM chain done at 49–61 s of the plan instead of 63–64 s).
FIRST_RELEASE_AFTER: dict[str, str] = {"icd10pcs": "icd10cm"}

# Seconds each step took in a reference run (two demos of session 16; the estimate scales them by this run's pace),
# and what makes the slow ones slow (shown when they start).
REFERENCE_SECONDS: dict[str, float] = {
    "icd10cm@FY2024": 19.0, "icd10cm@FY2025": 18.5, "icd10cm@FY2026": 14.5, "icd10pcs@FY2024": 16.5,
    "hcpcs@2024Q1": 6.0, "cpt@2026": 6.0, "mcd@2026-04": 1.0, "payer_rules@2026": 1.0, "msdrg@FY2026": 6.5,
    "ncci_ptp@2026Q1": 2.5, "ncci_mue@2026Q1": 1.5, "snomed@20250301": 1.0, "generate encounters": 1.0,
    "fhir@synthetic-42": 9.0, "coding@synthetic-42": 7.5,
}
WHY_SLOW: dict[str, str] = {
    "icd10cm@FY2024": "74k billable codes, each a new code node (its key, code, system, load-run and full-text "
                      "index entries) and a release membership; the first load on a fresh Neo4j also pays its "
                      "JIT warm-up (the first ~40k rows cost about twice the server CPU of later ones); ICD-10-PCS "
                      "waits for it, since two such first loads at once take twice as long each",
    "icd10cm@FY2025": "74k codes compared with FY2024's by digest, only the few hundred that changed written "
                      "(memberships are stored over ranges of releases), then a diff against FY2024 (added, "
                      "deleted, retitled) and REPLACED_BY links; the ICD-10-CM releases load one after another, "
                      "each on the one before",
    "icd10cm@FY2026": "the tabular XML: 98k codes incl. generated 7th-character codes (24k of them new nodes), "
                      "98k IS-A edges and ~50k note edges (EXCLUDES1, CODE_FIRST…) whose code ranges are resolved "
                      "against the release, all written (it differs from the code lists before it in nearly every "
                      "code); MS-DRG, MCD, payer rules and the SNOMED CT map wait for it (they link its codes)",
    "icd10pcs@FY2024": "79k procedure codes, each a new code node and a membership, with their table-stem hierarchy "
                       "(79k IS-A edges); after ICD-10-CM FY2024, beside the later ICD-10-CM releases",
    "msdrg@FY2026": "772 DRGs, 18k CC/MCC designations (three edges each) and 180k PDX-exclusion collection members",
    "fhir@synthetic-42": "2,000 FHIR encounters: patients, conditions, procedures, documents and evidence",
    "coding@synthetic-42": "coding assignments with revisions, each final version grouped to an MS-DRG",
}


@dataclass
class StepOutcome:
    rows: int = 0  # nodes and relationships the step created (WriteStats.records_created)
    note: str = ""


@dataclass
class Step:
    key: str  # "icd10cm@FY2026" (the release it makes) or a plain name
    what: str
    run: Callable[[], StepOutcome]
    after: set[str] = field(default_factory=set)


@dataclass
class StepTiming:
    key: str
    what: str
    started: float  # seconds since the plan started
    seconds: float
    rows: int
    status: str  # loaded | already loaded | failed

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 and self.rows else 0.0


def dataset_steps(datasets: list[BundledDataset], load: Callable[[BundledDataset], StepOutcome]) -> list[Step]:
    """One step per bundled dataset, each after the earlier datasets whose codes it merges or links (and a system's
    first release after the first release of the system named in ``FIRST_RELEASE_AFTER``)."""
    steps: list[Step] = []
    first_of: dict[str, str] = {}  # source -> its first step's key
    for ds in datasets:
        wanted = AFTER_SOURCES.get(ds.source, frozenset({ds.source}))
        after = {s.key for s, earlier in zip(steps, datasets, strict=False) if earlier.source in wanted}
        waits_for = FIRST_RELEASE_AFTER.get(ds.source)
        if ds.source not in first_of and waits_for in first_of:
            after.add(first_of[waits_for])
        key = f"{ds.source}@{ds.version}"
        first_of.setdefault(ds.source, key)
        steps.append(Step(key, ds.what, lambda ds=ds: load(ds), after))
    return steps


class GraphSize:
    """Node and relationship totals from the count store, and their growth rate between two readings."""

    WINDOW_S = 20.0  # writes land in committed batches: a rate over a few batches, not between two readings

    def __init__(self, driver: Driver, database: str) -> None:
        self.driver, self.database = driver, database
        self.readings: list[tuple[float, int]] = []

    def read(self) -> tuple[int, int, float | None]:
        records, _, _ = self.driver.execute_query(
            "CALL () { MATCH (n) RETURN count(n) AS nodes } CALL () { MATCH ()-[r]->() RETURN count(r) AS rels } "
            "RETURN nodes, rels", database_=self.database, routing_="r")
        nodes, rels = records[0]["nodes"], records[0]["rels"]
        now, rate = time.perf_counter(), None
        self.readings = [r for r in self.readings if now - r[0] <= self.WINDOW_S] + [(now, nodes + rels)]
        first = self.readings[0]
        if now > first[0]:
            rate = (nodes + rels - first[1]) / (now - first[0])
        return nodes, rels, rate


class PlanRunner:
    """Runs steps as their dependencies finish, ``jobs`` at a time, printing progress; raises the first failure
    once the running steps have finished (each load is atomic, so a failed step leaves nothing behind)."""

    def __init__(self, steps: list[Step], *, jobs: int, console: Console, size: GraphSize | None,
                 tick_s: float = 5.0) -> None:
        self.steps = {s.key: s for s in steps}
        self.jobs, self.console, self.size, self.tick_s = jobs, console, size, tick_s
        self.timings: list[StepTiming] = []
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def run(self) -> list[StepTiming]:
        if not self.console.is_terminal:
            return self._run()
        self._bar = Progress(
            TextColumn("[bold]demo loads"), BarColumn(), MofNCompleteColumn(), TextColumn("steps"),
            TimeElapsedColumn(), TextColumn("{task.fields[left]}"), TextColumn("[dim]{task.fields[loading]}"),
            console=self.console, transient=True,
        )
        with self._bar:
            self._task = self._bar.add_task("demo loads", total=len(self.steps), left="", loading="")
            return self._run()

    def _run(self) -> list[StepTiming]:
        t0 = time.perf_counter()
        pending = dict(self.steps)
        done: set[str] = set()
        running: dict[Future[StepOutcome], str] = {}
        failure: BaseException | None = None
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="demo-load") as pool:
            while pending or running:
                if failure is None:
                    for key, step in list(pending.items()):
                        if len(running) >= self.jobs:
                            break
                        if step.after <= done:
                            del pending[key]
                            self._started[key] = time.perf_counter() - t0
                            self.console.print(f"[{self._clock(t0)}] start  {step.what}"
                                               + (f"\n           [dim]slow part: {WHY_SLOW[key]}[/]"
                                                  if key in WHY_SLOW else ""), soft_wrap=True)
                            running[pool.submit(step.run)] = key
                elif not running:
                    break
                if not running:
                    missing = {k: sorted(s.after - done) for k, s in pending.items()}
                    raise RuntimeError(f"demo plan cannot proceed; waiting on {missing}")
                finished, _ = wait(running, timeout=self.tick_s, return_when=FIRST_COMPLETED)
                if not finished:
                    self._status(t0, running.values(), done)
                for future in finished:
                    key = running.pop(future)
                    step = self.steps[key]
                    seconds = time.perf_counter() - t0 - self._started[key]
                    try:
                        outcome = future.result()
                    except BaseException as exc:  # reported after the steps still running have finished
                        failure = failure or exc
                        self.timings.append(StepTiming(key, step.what, self._started[key], seconds, 0, "failed"))
                        self.console.print(f"[{self._clock(t0)}] [bold red]failed[/] {step.what}: {exc}")
                        continue
                    done.add(key)
                    if self._bar is not None and self._task is not None:
                        self._bar.advance(self._task)
                    status = "already loaded" if outcome.note == "already loaded" else "loaded"
                    self.timings.append(StepTiming(key, step.what, self._started[key], seconds, outcome.rows, status))
                    rate = f", {outcome.rows / seconds:,.0f}/s" if outcome.rows and seconds > 0 else ""
                    detail = f"{outcome.rows:,} nodes and relationships in {seconds:.1f}s{rate}" \
                        if status == "loaded" else status
                    self.console.print(f"[{self._clock(t0)}] done   {key}: {detail}"
                                       + (f" ({outcome.note})" if outcome.note and status == "loaded" else ""),
                                       soft_wrap=True)
        if failure is not None:
            raise failure
        return self.timings

    def _clock(self, t0: float) -> str:
        return f"{time.perf_counter() - t0:5.0f}s"

    def _status(self, t0: float, running: object, done: set[str]) -> None:
        now = time.perf_counter() - t0
        keys = sorted(running, key=lambda k: self._started[k])  # type: ignore[call-overload]
        parts = [f"{k} {now - self._started[k]:.0f}s" for k in keys]
        line = f"[{self._clock(t0)}] loading {', '.join(parts)}"
        if self.size is not None:
            try:
                nodes, rels, rate = self.size.read()
                line += f" · graph {nodes:,} nodes, {rels:,} relationships"
                line += f" (+{rate:,.0f}/s over {GraphSize.WINDOW_S:.0f}s)" if rate is not None else ""
            except Exception:  # the status line must never stop a load
                pass
        left = self.estimate_left(now, done)
        if left is not None:
            line += f" · about {left:.0f}s left (estimate)"
        if self._bar is not None and self._task is not None:
            # On a terminal the bar carries the status; the log-style line would scroll the screen every tick.
            self._bar.update(self._task, left=f"about {left:.0f}s left" if left is not None else "",
                             loading=", ".join(parts))
            return
        self.console.print(line, highlight=False, soft_wrap=True)

    def estimate_left(self, now: float, done: set[str]) -> float | None:
        """The remaining critical path of the reference run, scaled by how this run compares with it so far."""
        # Pace: this run's seconds per reference second, from the finished steps, and at least what the running
        # steps already show (a step still running past its reference time says the machine is slower).
        finished = [t for t in self.timings if t.status == "loaded" and REFERENCE_SECONDS.get(t.key, 0) >= 3]
        pace = (sum(t.seconds for t in finished) / sum(REFERENCE_SECONDS[t.key] for t in finished)
                if finished else 1.0)
        for key, started in self._started.items():
            reference = REFERENCE_SECONDS.get(key, 0)
            if key not in done and reference >= 3:
                pace = max(pace, (now - started) / reference)
        memo: dict[str, float] = {}

        def remaining(key: str) -> float:
            if key in done:
                return 0.0
            if key not in memo:
                own = REFERENCE_SECONDS.get(key, 2.0) * pace
                if key in self._started:
                    own = max(own - (now - self._started[key]), 1.0)
                memo[key] = own + max((remaining(k) for k in self.steps[key].after), default=0.0)
            return memo[key]

        return max((remaining(k) for k in self.steps), default=0.0)


def timings_table(timings: list[StepTiming], total_s: float) -> Table:
    table = Table(title=f"demo: ready in {total_s:.1f}s")
    for column, justify in (("step", "left"), ("started", "right"), ("seconds", "right"), ("records", "right"),
                            ("records/s", "right"), ("status", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for t in sorted(timings, key=lambda t: t.started):
        table.add_row(t.key, f"{t.started:.1f}", f"{t.seconds:.1f}", f"{t.rows:,}" if t.rows else "",
                      f"{t.rows_per_second:,.0f}" if t.rows_per_second else "", t.status)
    return table
