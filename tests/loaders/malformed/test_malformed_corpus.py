"""Each format's valid file loads; each variant that breaks one thing is refused with a message naming the file,
where in it (line, record, XML path, RF2 row) and the field — and the graph is exactly as it was (fingerprint)."""

from __future__ import annotations

from pathlib import Path

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from loaders.errors import LoadError
from loaders.registry import load_source
from tests.conftest import wipe_graph
from tests.loaders.malformed.corpus import FormatCases, Variant, load_cases
from tests.loaders.malformed.fingerprint import graph_fingerprint

CASES = load_cases()
BY_FORMAT = {cases.format: cases for cases in CASES}
VARIANTS = [variant for cases in CASES for variant in cases.variants]
# format -> fingerprint of the graph holding that format's valid files (the baseline every variant meets)
_baselines: dict[str, tuple[str, dict[str, int]]] = {}


def _baseline(driver: Driver, settings: Settings, cases: FormatCases, tmp: Path) -> tuple[str, dict[str, int]]:
    now = graph_fingerprint(driver, settings.neo4j_database)
    if _baselines.get(cases.format) == now:
        return now
    wipe_graph(driver, settings.neo4j_database)
    report = load_source(driver, settings, cases.source, cases.assemble(None, tmp / "baseline", baseline=True),
                         cases.baseline)
    assert report.status == "completed"
    _baselines.clear()
    _baselines[cases.format] = graph_fingerprint(driver, settings.neo4j_database)
    return _baselines[cases.format]


def _release_statuses(driver: Driver, settings: Settings, release_id: str) -> list[str]:
    records, _, _ = driver.execute_query("MATCH (r:Release {id: $id}) RETURN r.status AS status", id=release_id,
                                         database_=settings.neo4j_database)
    return [r["status"] for r in records]


@pytest.mark.parametrize("cases", CASES, ids=[c.format for c in CASES])
def test_the_valid_files_load(driver: Driver, settings: Settings, cases: FormatCases, tmp_path: Path) -> None:
    before = _baseline(driver, settings, cases, tmp_path)
    assert before[1], f"{cases.format}: the valid files wrote nothing"
    report = load_source(driver, settings, cases.source, cases.assemble(None, tmp_path), cases.release)
    assert report.status == "completed"
    _baselines.clear()


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_a_variant_is_refused_with_a_located_message_and_the_graph_unchanged(
    driver: Driver, settings: Settings, variant: Variant, tmp_path: Path
) -> None:
    cases = BY_FORMAT[variant.format]
    before = _baseline(driver, settings, cases, tmp_path)
    paths = cases.assemble(variant, tmp_path)
    if variant.outcome == "loads":
        report = load_source(driver, settings, cases.source, paths, cases.release)
        _baselines.clear()
        assert report.status == "completed", variant.why
        assert _release_statuses(driver, settings, report.release) == ["visible"]
        # An identical repeat is folded with a warning, and the run's report says how many, in which file.
        print(f"\n[{variant.id}] {report.counts}")
        folded = {k.removeprefix("identical repeats folded (")[:-1]: v for k, v in report.counts.items()
                  if k.startswith("identical repeats folded (")}
        assert folded == variant.folded, variant.why
        return
    with pytest.raises(LoadError) as refused:
        load_source(driver, settings, cases.source, paths, cases.release)
    message = str(refused.value)
    print(f"\n[{variant.id}] {message}")  # the corpus table of the closing note is made from these
    assert any(name in message for name in variant.changed), f"no file named in: {message}"
    for part in variant.expect:
        assert part in message, f"{part!r} not in: {message}"
    # Release nodes are in the fingerprint: no staging or visible release of the refused files is left.
    assert graph_fingerprint(driver, settings.neo4j_database) == before, "the refused load changed the graph"
