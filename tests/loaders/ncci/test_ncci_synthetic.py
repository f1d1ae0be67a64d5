"""Synthetic NCCI tables: written in the real layouts, read back by the same parsers, reproducible."""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import pairwise
from pathlib import Path

from loaders.ncci.common import PROCEDURE_CODE, NcciSetting
from loaders.ncci.mue import read_mue
from loaders.ncci.ptp import read_ptp
from loaders.ncci.synthetic import CPT_RANGES, write_synthetic_mue, write_synthetic_ptp


def test_synthetic_ptp_parses_back_with_exact_row_count(tmp_path: Path) -> None:
    path = tmp_path / "ccipra-synthetic.txt"
    assert write_synthetic_ptp(path, n_rows=2_000, seed=3) == 2_000
    edits = list(read_ptp(path))
    assert len(edits) == 2_000
    assert path.read_bytes().count(b"\r\n") == 2_000 + 6  # CRLF, six preamble lines
    indicators = Counter(e.modifier_indicator for e in edits)
    assert indicators[1] > indicators[0] > indicators[9] > 0
    assert all(PROCEDURE_CODE.fullmatch(e.column1) and e.column1 != e.column2 for e in edits)


def test_synthetic_cpt_codes_fall_in_real_ranges(tmp_path: Path) -> None:
    path = tmp_path / "ccioph-synthetic.txt"
    write_synthetic_ptp(path, n_rows=2_000, seed=5)
    numeric = {int(code) for e in read_ptp(path) for code in (e.column1, e.column2) if code.isdigit()}
    assert all(any(lo <= code <= hi for lo, hi in CPT_RANGES) for code in numeric)


def test_pairs_with_several_windows_never_overlap(tmp_path: Path) -> None:
    path = tmp_path / "ccipra-synthetic.txt"
    write_synthetic_ptp(path, n_rows=5_000, seed=11)
    windows = defaultdict(list)
    for e in read_ptp(path):
        windows[(e.column1, e.column2)].append(e)
    multi = [rows for rows in windows.values() if len(rows) > 1]
    assert multi
    for rows in multi:
        for earlier, later in pairwise(rows):
            assert earlier.deletion is not None and earlier.deletion < later.effective


def test_same_seed_same_file(tmp_path: Path) -> None:
    first, second = tmp_path / "ccipra-a.txt", tmp_path / "ccipra-b.txt"
    write_synthetic_ptp(first, 500, seed=9)
    write_synthetic_ptp(second, 500, seed=9)
    assert first.read_bytes() == second.read_bytes()


def test_synthetic_mue_parses_back_for_each_setting(tmp_path: Path) -> None:
    for setting in NcciSetting:
        path = tmp_path / f"mue-{setting.value}.csv"
        assert write_synthetic_mue(path, setting, n_codes=300, seed=1) == 300
        edits = list(read_mue(path))
        assert len(edits) == 300 and {e.setting for e in edits} == {setting}
        assert {e.mai for e in edits} == {1, 2, 3}
