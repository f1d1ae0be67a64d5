"""The notes a load resolves in a second process (while it builds the code rows) are exactly those resolved in
process, and a machine without fork resolves them in process."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from loaders.icd10cm import tabular_model
from loaders.icd10cm.tabular_model import notes_aside, parse_tabular, read_model

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "icd10cm" / "icd10cm-tabular-excerpt.xml"


def test_notes_resolved_aside_are_those_resolved_in_process() -> None:
    expected = parse_tabular([FIXTURE])
    edges, unresolved, counts = notes_aside(read_model([FIXTURE]))()
    assert edges and unresolved  # the excerpt has both: S02's note names S06, A04's names codes it lacks
    assert (edges, unresolved, counts) == (expected.edges, dict(expected.unresolved), expected.counts)


def test_without_fork_the_notes_are_resolved_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork(method: str) -> multiprocessing.context.BaseContext:
        raise ValueError(f"cannot find context for {method!r}")

    monkeypatch.setattr(tabular_model.multiprocessing, "get_context", no_fork)
    expected = parse_tabular([FIXTURE])
    assert notes_aside(read_model([FIXTURE]))() == (expected.edges, dict(expected.unresolved), expected.counts)
