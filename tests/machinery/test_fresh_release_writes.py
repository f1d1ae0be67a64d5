"""The fast write path of a new release: CREATEd memberships and edges, list rows, concurrent sessions.

Whatever the speed, the guarantees stay: code nodes shared across releases, provenance on every node and
relationship, a failed load (even one that fails in a writer thread after other batches committed) leaves the
graph as it was, and a bad row is named.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from loaders.errors import LoadError, ParseError
from loaders.machinery.code_release import (
    CODE_FIELDS,
    code_row,
    code_rows_statement,
    refresh_code_titles,
    write_codes,
    write_edges,
)
from loaders.machinery.pipeline import LoadContext, LoadReport, run_load
from loaders.machinery.release_diff import diff_releases
from loaders.machinery.row_layout import RowLayout
from loaders.machinery.runs import ReleaseSpec
from loaders.machinery.writer import RowWriteError
from ontology.code_systems import system
from ontology.vocabulary import L, R
from tests.conftest import graph_counts

HCPCS = system("hcpcs")


class CodeFileLoader:
    """Lines ``code<TAB>title[<TAB>parent]`` through the shared code-release statements; ``!`` marks a row
    the graph refuses (a map is not a property value) and ``?`` a line the parser refuses."""

    name = "hcpcs"
    system_name = "HCPCS Level II"

    def __init__(self, streaming: bool = False) -> None:
        self.streaming = streaming  # rows straight from the parser to two writer sessions

    def write(self, ctx: LoadContext) -> None:
        path = ctx.sources[0]
        lines = [line.split("\t") for line in path.read_text().splitlines()]

        def rows() -> Iterator[dict[str, Any]]:
            for n, (code, title, *rest) in enumerate(lines, start=1):
                if code.startswith("?"):
                    raise ParseError(path, n, "code", "a code", code)
                extra = {"odd": {"not": "a property value"}} if code.startswith("!") else {}
                yield code_row(HCPCS, code.lstrip("!"), title, billable=True, kind="code",
                               parent=rest[0] if rest else None, **extra)

        if self.streaming:
            layout = RowLayout((*CODE_FIELDS, "kind"))
            statement = code_rows_statement(L.HCPCSCode, layout, fresh=ctx.fresh_release)
            ctx.writer.write("codes", statement, rows(), params={"system": HCPCS.id}, layout=layout, sessions=2)
            return
        ctx.counts["codes"] = write_codes(ctx, HCPCS, rows())
        write_edges(ctx, R.CODE_ALSO, ({"source": HCPCS.key(c), "target": HCPCS.key(rest[0]),
                                        "props": {"note": f"code also {rest[0]}"}} for c, _t, *rest in lines if rest))

    def after_promote(self, ctx: LoadContext) -> None:
        refresh_code_titles(ctx, HCPCS)


def _load(driver: Driver, settings: Settings, path: Path, version: str, *, streaming: bool = False,
          **kw: Any) -> LoadReport:
    return run_load(driver, settings.neo4j_database, CodeFileLoader(streaming), [path],
                    ReleaseSpec.parse("hcpcs", version), **kw)


def test_a_second_release_shares_the_code_nodes_and_creates_its_own_memberships(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    q1, q2 = tmp_path / "q1.txt", tmp_path / "q2.txt"
    q1.write_text("A0001\tFirst\nA0002\tSecond\tA0001\n")
    q2.write_text("A0002\tSecond, revised\tA0001\nA0001\tFirst\nA0003\tThird\tA0001\n")
    first = _load(clean_graph, settings, q1, "2026Q1", batch_size=1)
    second = _load(clean_graph, settings, q2, "2026Q2", batch_size=1)
    records, _, _ = clean_graph.execute_query(
        f"""MATCH (c:{L.Code}) OPTIONAL MATCH (c)-[m:{R.IN_RELEASE}]->(r:{L.Release})
            RETURN c.code AS code, c.load_run AS made_by, c.title AS title,
                   collect([r.id, m.title, m.release, m.load_run]) AS memberships ORDER BY code""",
        database_=settings.neo4j_database,
    )
    by_code = {r["code"]: r for r in records}
    assert sorted(by_code) == ["A0001", "A0002", "A0003"]  # one node per code across both releases
    assert by_code["A0002"]["made_by"] == first.run_id and by_code["A0003"]["made_by"] == second.run_id
    assert sorted(by_code["A0002"]["memberships"]) == [
        ["hcpcs@2026Q1", "Second", "hcpcs@2026Q1", first.run_id],
        ["hcpcs@2026Q2", "Second, revised", "hcpcs@2026Q2", second.run_id],
    ]
    assert by_code["A0002"]["title"] == "Second, revised"  # the node shows the newest visible release
    edges, _, _ = clean_graph.execute_query(
        f"""MATCH (a)-[e:{R.IS_A}|{R.CODE_ALSO}]->(b) RETURN type(e) AS t, a.code AS a, b.code AS b,
                  e.release AS rel, e.load_run AS run ORDER BY rel, t, a""",
        database_=settings.neo4j_database,
    )
    assert [(e["t"], e["a"], e["rel"], e["run"]) for e in edges] == [
        ("CODE_ALSO", "A0002", "hcpcs@2026Q1", first.run_id), ("IS_A", "A0002", "hcpcs@2026Q1", first.run_id),
        ("CODE_ALSO", "A0002", "hcpcs@2026Q2", second.run_id), ("CODE_ALSO", "A0003", "hcpcs@2026Q2", second.run_id),
        ("IS_A", "A0002", "hcpcs@2026Q2", second.run_id), ("IS_A", "A0003", "hcpcs@2026Q2", second.run_id),
    ]
    diff = diff_releases(clean_graph, settings.neo4j_database, "hcpcs", "hcpcs@2026Q1", "hcpcs@2026Q2")
    assert (diff.added, diff.deleted) == (["A0003"], [])
    assert [(t.code, t.old_title, t.new_title) for t in diff.title_revised] == [("A0002", "Second", "Second, revised")]


def test_a_writer_thread_failing_after_committed_batches_leaves_the_graph_as_it_was(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    good = tmp_path / "good.txt"
    good.write_text("A0001\tFirst\n")
    _load(clean_graph, settings, good, "2026Q1")
    before = graph_counts(clean_graph, settings.neo4j_database)
    bad = tmp_path / "bad.txt"
    bad.write_text("".join(f"B{n:04d}\tCode {n}\n" for n in range(1, 12)) + "!B0012\tRefused\n"
                   + "".join(f"B{n:04d}\tCode {n}\n" for n in range(13, 20)))
    with pytest.raises(RowWriteError) as err:
        _load(clean_graph, settings, bad, "2026Q2", batch_size=2)
    assert "code 'B0012'" in str(err.value)
    nodes, rels = graph_counts(clean_graph, settings.neo4j_database)
    assert (nodes - 1, rels) == before  # only the failed LoadRun, the record of what happened, is new


def test_a_parse_error_while_writers_run_leaves_the_graph_as_it_was(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    before = graph_counts(clean_graph, settings.neo4j_database)
    bad = tmp_path / "bad.txt"
    bad.write_text("".join(f"B{n:04d}\tCode {n}\n" for n in range(1, 10)) + "?B0010\tunreadable\n")
    with pytest.raises(ParseError) as err:
        _load(clean_graph, settings, bad, "2026Q2", streaming=True, batch_size=2)
    assert "bad.txt:10" in str(err.value)
    nodes, rels = graph_counts(clean_graph, settings.neo4j_database)
    assert (nodes - 1, rels) == before


def test_each_code_is_linked_to_its_parent_written_in_the_same_load_at_any_depth(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    deep = tmp_path / "deep.txt"  # children before their parents, four levels, batches of one on two sessions
    deep.write_text("A0004\tFour\tA0003\nA0003\tThree\tA0002\nA0002\tTwo\tA0001\nA0001\tOne\n")
    _load(clean_graph, settings, deep, "2026Q1", batch_size=1)
    records, _, _ = clean_graph.execute_query(
        f"MATCH (c)-[:{R.IS_A} {{release: 'hcpcs@2026Q1'}}]->(p) RETURN c.code AS child, p.code AS parent "
        "ORDER BY child", database_=settings.neo4j_database)
    assert [(r["child"], r["parent"]) for r in records] == [("A0002", "A0001"), ("A0003", "A0002"),
                                                            ("A0004", "A0003")]


def test_a_hierarchy_cycle_is_refused_naming_a_code_and_leaves_the_graph_as_it_was(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    before = graph_counts(clean_graph, settings.neo4j_database)
    cycle = tmp_path / "cycle.txt"
    cycle.write_text("A0001\tOne\tA0002\nA0002\tTwo\tA0001\n")
    with pytest.raises(LoadError, match=r"cycle through code 'A000[12]'"):
        _load(clean_graph, settings, cycle, "2026Q1")
    nodes, rels = graph_counts(clean_graph, settings.neo4j_database)
    assert (nodes - 1, rels) == before  # only the failed LoadRun


def test_a_repeated_code_in_a_new_release_gets_one_membership_the_first(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    src = tmp_path / "codes.txt"
    src.write_text("A0001\tFirst\nA0001\tFirst again\nA0002\tSecond\tA0001\nA0002\tSecond\tA0001\n")
    report = _load(clean_graph, settings, src, "2026Q1", batch_size=1)
    records, _, _ = clean_graph.execute_query(
        f"""MATCH (c:{L.Code})-[m:{R.IN_RELEASE}]->() WITH c, collect(m.title) AS titles
            OPTIONAL MATCH (c)-[e:{R.IS_A}]->() RETURN c.code AS code, titles, count(e) AS parents ORDER BY code""",
        database_=settings.neo4j_database,
    )
    assert [(r["code"], r["titles"], r["parents"]) for r in records] == [("A0001", ["First"], 0),
                                                                         ("A0002", ["Second"], 1)]
    assert report.counts["repeated_rows_dropped codes"] == 2


def test_loading_a_visible_release_again_writes_nothing_new(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    src = tmp_path / "codes.txt"
    src.write_text("A0001\tFirst\nA0002\tSecond\tA0001\n")
    _load(clean_graph, settings, src, "2026Q1")
    before = graph_counts(clean_graph, settings.neo4j_database)
    again = _load(clean_graph, settings, src, "2026Q1")
    assert again.status == "unchanged"  # the same sha256s: recognised before anything is written
    assert again.stats.relationships_created == 0 and again.stats.nodes_created == 0
    assert graph_counts(clean_graph, settings.neo4j_database) == before  # not even a second LoadRun
