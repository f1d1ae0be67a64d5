"""The demo's load plan: which bundled loads may overlap, and how the runner orders, reports and fails."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from codegraph.demo import where_time_went
from codegraph.demo_loads import REFERENCE_SECONDS, PlanRunner, Step, StepOutcome, dataset_steps
from loaders.bundled import bundled_datasets
from loaders.machinery.pipeline import LoadReport
from loaders.machinery.writer import WriteStats


def _plan() -> dict[str, set[str]]:
    steps = dataset_steps(bundled_datasets(), lambda ds: StepOutcome())
    return {s.key: s.after for s in steps}


def test_icd10cm_releases_load_oldest_first_and_every_icd10cm_linker_waits_for_them() -> None:
    plan = _plan()
    assert plan["icd10cm@FY2024"] == set()
    assert plan["icd10cm@FY2025"] == {"icd10cm@FY2024"}
    assert plan["icd10cm@FY2026"] == {"icd10cm@FY2024", "icd10cm@FY2025"}
    icd10cm = {"icd10cm@FY2024", "icd10cm@FY2025", "icd10cm@FY2026"}
    for linker in ("snomed@20250301", "msdrg@FY2026", "mcd@2026-04", "payer_rules@2026"):
        assert icd10cm <= plan[linker], linker


def test_steps_that_link_the_same_icd10cm_codes_never_overlap() -> None:
    plan = _plan()
    # mcd → payer rules → msdrg → snomed: each waits for the one before
    assert "mcd@2026-04" in plan["payer_rules@2026"]
    assert "payer_rules@2026" in plan["msdrg@FY2026"]
    assert "msdrg@FY2026" in plan["snomed@20250301"]


def test_independent_code_systems_may_load_beside_icd10cm() -> None:
    plan = _plan()
    for key in ("hcpcs@2024Q1", "cpt@2026"):
        assert not any(k.startswith("icd10cm@") for k in plan[key]), key
    assert plan["ncci_ptp@2026Q1"] == {"hcpcs@2024Q1", "cpt@2026"}


def test_the_two_big_first_loads_take_turns_then_pcs_loads_beside_the_later_icd10cm_releases() -> None:
    plan = _plan()
    assert plan["icd10pcs@FY2024"] == {"icd10cm@FY2024"}  # not both ~75k-node first loads on a cold server at once
    for later in ("icd10cm@FY2025", "icd10cm@FY2026"):
        assert "icd10pcs@FY2024" not in plan[later]


def _runner(steps: list[Step], jobs: int = 2) -> PlanRunner:
    return PlanRunner(steps, jobs=jobs, console=Console(file=open("/dev/null", "w")), size=None, tick_s=0.05)


def test_a_step_starts_only_after_its_dependencies_and_independent_steps_overlap() -> None:
    events: list[tuple[str, str]] = []
    lock = threading.Lock()

    def work(name: str, seconds: float) -> StepOutcome:
        with lock:
            events.append(("start", name))
        time.sleep(seconds)
        with lock:
            events.append(("end", name))
        return StepOutcome(rows=10)

    steps = [Step("a", "a", lambda: work("a", 0.3)), Step("b", "b", lambda: work("b", 0.1)),
             Step("c", "c", lambda: work("c", 0.05), {"a"})]
    timings = _runner(steps).run()
    assert events.index(("start", "b")) < events.index(("end", "a"))  # a and b overlap
    assert events.index(("end", "a")) < events.index(("start", "c"))  # c waits for a
    assert {t.key: (t.rows, t.status) for t in timings} == {"a": (10, "loaded"), "b": (10, "loaded"),
                                                            "c": (10, "loaded")}


def test_a_failed_step_is_raised_and_what_depends_on_it_never_starts() -> None:
    started: list[str] = []

    def fail() -> StepOutcome:
        raise RuntimeError("bad file")

    def ok(name: str) -> StepOutcome:
        started.append(name)
        return StepOutcome()

    runner = _runner([Step("a", "a", fail), Step("b", "b", lambda: ok("b"), {"a"}), Step("c", "c", lambda: ok("c"))],
                     jobs=1)
    with pytest.raises(RuntimeError, match="bad file"):
        runner.run()
    assert "b" not in started
    assert [t.status for t in runner.timings if t.key == "a"] == ["failed"]


def test_the_estimate_is_the_remaining_critical_path_scaled_by_the_pace_so_far() -> None:
    runner = _runner([Step("icd10cm@FY2024", "x", StepOutcome), Step("icd10cm@FY2025", "y", StepOutcome,
                                                                      {"icd10cm@FY2024"})])
    first, second = REFERENCE_SECONDS["icd10cm@FY2024"], REFERENCE_SECONDS["icd10cm@FY2025"]
    # nothing run yet: the reference run's seconds of both
    assert runner.estimate_left(0.0, set()) == pytest.approx(first + second)
    # FY2024 has run twice its reference and is still running: FY2025 is expected to take twice its own
    runner._started["icd10cm@FY2024"] = 0.0
    assert runner.estimate_left(2 * first, set()) == pytest.approx(1.0 + 2 * second)


def _slow_plan() -> list[Step]:
    def work(seconds: float) -> StepOutcome:
        time.sleep(seconds)
        return StepOutcome(rows=5)

    return [Step("icd10cm@FY2024", "first", lambda: work(0.4)),
            Step("icd10cm@FY2025", "second", lambda: work(0.3), {"icd10cm@FY2024"})]


def test_on_a_terminal_the_status_is_a_progress_bar_with_the_total_and_an_estimate() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200)
    PlanRunner(_slow_plan(), jobs=2, console=console, size=None, tick_s=0.05).run()
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())  # what the terminal shows, without escapes
    assert "0/2 steps" in screen and "1/2 steps" in screen  # the bar shows the total
    assert "s left" in screen  # and the estimate of the time left
    assert "loading icd10cm" not in screen  # no log-style status lines scrolling the terminal
    assert "done   icd10cm@FY2025" in screen  # the start/done lines stay above the bar


def test_without_a_terminal_the_status_is_a_plain_line_every_tick() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    PlanRunner(_slow_plan(), jobs=2, console=console, size=None, tick_s=0.05).run()
    lines = out.getvalue().splitlines()
    status = [line for line in lines if "] loading icd10cm@FY2024" in line]
    assert status and all("left (estimate)" in line for line in status)
    assert not any("━" in line for line in lines)  # no bar drawn into a log


def test_the_bundled_files_are_found_without_importing_their_packages() -> None:
    # simple_icd_10_cm parses its whole tabular XML when imported: seconds before the demo's first load could start.
    probe = ("import sys; from loaders.bundled import bundled_datasets; found = bundled_datasets(); "
             "print(all(p.exists() for d in found for p in d.paths), 'simple_icd_10_cm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.split() == ["True", "False"]


def test_a_step_says_where_its_time_went_including_a_long_wait_for_the_full_text_index() -> None:
    stats = WriteStats(seconds_per_statement={"icd10cm codes": 6.5, "coverage": 0.1})
    report = LoadReport(run_id="r", release="icd10cm@FY2025", status="completed", stats=stats, counts={},
                        seconds=12.0, phases={"write": 8.0, "text_index": 2.4, "promote": 2.6})
    assert where_time_went(report) == "icd10cm codes 6.5s, full-text index catching up 2.4s"
    report.phases["text_index"] = 0.2
    assert where_time_went(report) == "icd10cm codes 6.5s"
