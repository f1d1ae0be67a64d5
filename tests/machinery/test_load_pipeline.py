"""The shared load machinery: provenance, atomic releases, idempotence, located errors."""

from __future__ import annotations

from datetime import date

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from loaders.errors import ParseError
from loaders.machinery.pipeline import LoadContext, ReleaseConflictError, run_load
from loaders.machinery.runs import ReleaseSpec
from ontology.vocabulary import L, R, cypher_labels
from tests.conftest import graph_counts

MERGE_CODES = f"""
UNWIND $rows AS row
MERGE (c{cypher_labels(L.HCPCSCode)} {{key: 'hcpcs|' + row.code}})
  ON CREATE SET c.code = row.code, c.system = 'hcpcs', c.load_run = $run
WITH c, row
MATCH (rel:{L.Release} {{id: $release}})
MERGE (c)-[m:{R.IN_RELEASE}]->(rel)
  ON CREATE SET m.release = $release, m.load_run = $run, m.title = row.title
"""


class TinyLoader:
    """A loader over a two-column text file, failing on a line without a tab."""

    name = "hcpcs"
    system_name = "HCPCS Level II"

    def write(self, ctx: LoadContext) -> None:
        path = ctx.sources[0]

        def rows():  # type: ignore[no-untyped-def]
            for n, line in enumerate(path.read_text().splitlines(), start=1):
                if "\t" not in line:
                    raise ParseError(path, n, "code", "a code, a tab and a title", line)
                code, title = line.split("\t", 1)
                yield {"code": code, "title": title}

        ctx.counts["codes"] = ctx.writer.write("codes", MERGE_CODES, rows())


def _release(version: str = "2026Q1") -> ReleaseSpec:
    return ReleaseSpec("hcpcs", version, date(2026, 1, 1), date(2026, 4, 1))


def test_completed_load_is_visible_with_provenance(clean_graph: Driver, settings: Settings, tmp_path) -> None:
    src = tmp_path / "codes.txt"
    src.write_text("A0428\tAmbulance service, basic life support\nE0110\tCrutches, forearm\n")
    report = run_load(clean_graph, settings.neo4j_database, TinyLoader(), [src], _release(), batch_size=1)
    assert report.status == "completed" and report.counts["codes"] == 2
    assert report.phases["text_index"] >= 0  # made visible once searchable: the wait is timed and reported
    records, _, _ = clean_graph.execute_query(
        f"""MATCH (c:{L.Code})-[m:{R.IN_RELEASE}]->(r:{L.Release} {{status: 'visible'}})-[:{R.PRODUCED_BY}]->
                 (run:{L.LoadRun})
           RETURN c.code AS code, m.release AS rel, m.load_run AS run, run.id AS run_id, run.status AS status,
                  run.source_files AS files ORDER BY code""",
        database_=settings.neo4j_database,
    )
    assert [r["code"] for r in records] == ["A0428", "E0110"]
    assert all(r["rel"] == "hcpcs@2026Q1" and r["run"] == report.run_id == r["run_id"] for r in records)
    assert records[0]["status"] == "completed"
    assert records[0]["files"][0].startswith("codes.txt|")


def test_rerunning_the_same_load_gives_the_same_graph(clean_graph: Driver, settings: Settings, tmp_path) -> None:
    src = tmp_path / "codes.txt"
    src.write_text("A0428\tAmbulance service, basic life support\n")
    run_load(clean_graph, settings.neo4j_database, TinyLoader(), [src], _release())
    before = graph_counts(clean_graph, settings.neo4j_database)
    again = run_load(clean_graph, settings.neo4j_database, TinyLoader(), [src], _release())
    # The very same files (by sha256) are recognised before anything is written: not even a new LoadRun.
    assert again.status == "unchanged" and graph_counts(clean_graph, settings.neo4j_database) == before


def test_failed_load_leaves_the_graph_as_it_was(clean_graph: Driver, settings: Settings, tmp_path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("A0428\tAmbulance service, basic life support\n")
    run_load(clean_graph, settings.neo4j_database, TinyLoader(), [good], _release())
    before = graph_counts(clean_graph, settings.neo4j_database)
    bad = tmp_path / "bad.txt"
    bad.write_text("E0110\tCrutches\n" * 3 + "G0008 influenza vaccine administration\n")
    with pytest.raises(ParseError) as err:
        run_load(clean_graph, settings.neo4j_database, TinyLoader(), [bad], _release("2026Q2"), batch_size=2)
    assert "bad.txt:4" in str(err.value) and "'code'" in str(err.value)
    nodes, rels = graph_counts(clean_graph, settings.neo4j_database)
    assert (nodes - 1, rels) == before  # the failed LoadRun stays as the record of what happened
    records, _, _ = clean_graph.execute_query(
        f"MATCH (r:{L.LoadRun} {{status: 'failed'}}) RETURN r.error AS error", database_=settings.neo4j_database
    )
    assert "bad.txt:4" in records[0]["error"]


def test_dry_run_leaves_nothing_visible(clean_graph: Driver, settings: Settings, tmp_path) -> None:
    src = tmp_path / "codes.txt"
    src.write_text("A0428\tAmbulance service, basic life support\n")
    report = run_load(clean_graph, settings.neo4j_database, TinyLoader(), [src], _release(), dry_run=True)
    assert report.status == "dry_run" and report.counts["codes"] == 1
    assert "text_index" not in report.phases  # nothing is published, so nothing waits for the full-text index
    assert graph_counts(clean_graph, settings.neo4j_database) == (1, 0)  # the dry-run LoadRun only


def test_a_visible_release_cannot_be_silently_replaced(clean_graph: Driver, settings: Settings, tmp_path) -> None:
    src = tmp_path / "codes.txt"
    src.write_text("A0428\tAmbulance service, basic life support\n")
    run_load(clean_graph, settings.neo4j_database, TinyLoader(), [src], _release())
    src.write_text("A0429\tAmbulance service, emergency\n")
    with pytest.raises(ReleaseConflictError):
        run_load(clean_graph, settings.neo4j_database, TinyLoader(), [src], _release())
