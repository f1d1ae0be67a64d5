"""The notes a load resolves in a second process (while it builds the code rows) are exactly those resolved in
process, and a machine without fork resolves them in process."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from loaders.icd10cm import tabular_model
from loaders.icd10cm.tabular_model import NotesAside, parse_tabular, read_model

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "icd10cm" / "icd10cm-tabular-excerpt.xml"


def test_notes_resolved_aside_are_those_resolved_in_process() -> None:
    expected = parse_tabular([FIXTURE])
    edges, unresolved, counts = NotesAside(read_model([FIXTURE]))()
    assert edges and unresolved  # the excerpt has both: S02's note names S06, A04's names codes it lacks
    assert (edges, unresolved, counts) == (expected.edges, dict(expected.unresolved), expected.counts)


def test_without_fork_the_notes_are_resolved_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork(method: str) -> multiprocessing.context.BaseContext:
        raise ValueError(f"cannot find context for {method!r}")

    monkeypatch.setattr(tabular_model.multiprocessing, "get_context", no_fork)
    expected = parse_tabular([FIXTURE])
    assert NotesAside(read_model([FIXTURE]))() == (expected.edges, dict(expected.unresolved), expected.counts)


def test_a_child_nobody_waited_for_is_stopped_when_the_block_ends() -> None:
    with NotesAside(read_model([FIXTURE])) as resolved:
        child = resolved.child
        assert child is not None  # Linux forks
    # Stopped (or done), and reaped: no process is left behind by a load that failed before asking.
    assert resolved.child is None and not child.is_alive() and child.exitcode is not None
