"""What the evaluation derives from a release and keeps in memory (each code's checked notes folded from its
ancestors: its Excludes1 notes and its code first / use additional instructions, ``evaluation.code_checks``) is
dropped with the release's table: a release retracted and reloaded under the same id with other notes is answered
from the new notes at once, by the process that made the change (the catalog poll is an hour away here)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from codegraph.settings import Settings
from graph_service.app import create_app
from graph_service.graph import Graph
from graph_service.reference.code_table import CodeTable
from graph_service.services.codes import code_table
from loaders.registry import load_source
from ontology.code_systems import system
from tests.graph_service.evaluation.cases import evaluation
from tests.graph_service.lane import post_both_ways

REPO = Path(__file__).resolve().parents[3]
TABULAR = REPO / "tests/fixtures/icd10cm/icd10cm-tabular-excerpt.xml"
# A04 (Other bacterial intestinal infections) gains an Excludes1 note opening category A00 in the first load.
A04_EXCLUDES1 = "<note>tuberculous enteritis (A18.32)</note>"
EXTRA_NOTE = "<note>cholera (A00.-)</note>"
# ... and a use-additional instruction naming a code the claim does not carry.
A04_EXCLUDES1_END = A04_EXCLUDES1 + "\n        </excludes1>"
EXTRA_INSTRUCTION = "<useAdditionalCode><note>cholera, unspecified (A00.9)</note></useAdditionalCode>"


@pytest.fixture
def tabulars(tmp_path: Path) -> tuple[Path, Path]:
    text = TABULAR.read_text()
    assert A04_EXCLUDES1_END in text
    with_note = tmp_path / "with-note" / "icd10cm-tabular-2026.xml"
    without = tmp_path / "without" / "icd10cm-tabular-2026.xml"
    noted = text.replace(A04_EXCLUDES1_END, A04_EXCLUDES1_END + EXTRA_INSTRUCTION).replace(
        A04_EXCLUDES1, A04_EXCLUDES1 + EXTRA_NOTE)
    for path, body in ((with_note, noted), (without, text)):
        path.parent.mkdir()
        path.write_text(body)
    return with_note, without


def _evaluation(client: TestClient, engine: dict[str, str]) -> dict:  # type: ignore[type-arg]
    body = {"encounter": {"setting": "practitioner", "age": 40, "sex": "female", "admission_date": "2026-01-10",
                          "discharge_date": "2026-01-10"},
            "codes": {"principal": {"code": "A04.71"}, "secondary": [{"code": "A00.0"}]},
            "include_history": False}
    return evaluation(post_both_ways(client, "/v1/assignments/evaluate", body, engine))


def _held_table(client: TestClient) -> CodeTable:
    """The FY2026 table held for the catalog as it is now. The app builds tables in the background (a request meanwhile
    reads the graph, which holds no per-release cache): wait for it, so the evaluations below read the table."""
    graph: Graph = client.app.state.graph  # type: ignore[attr-defined]
    cs = system("icd10cm")
    deadline = time.monotonic() + 120
    while (table := code_table(graph, cs, graph.reference.catalog().resolve("icd10cm", "FY2026"))) is None:
        assert time.monotonic() < deadline, graph.reference.status()
        time.sleep(0.05)
    return table


def _read_from(table: CodeTable, client: TestClient) -> bool:
    """The evaluation just made read this table's folded notes of A04.71 (the table path), and it is still held."""
    return (("evaluation_notes", system("icd10cm").key("A04.71")) in table._derived
            and _held_table(client) is table)


def _excludes1(evaluation: dict) -> list[dict]:  # type: ignore[type-arg]
    return [f for f in evaluation["compliant"]["findings"] if f["check"] == "excludes1"]


def _use_additional(evaluation: dict) -> list[tuple[list[str], str, list[str]]]:  # type: ignore[type-arg]
    return [(f["codes"], f["rule"]["detail"]["noted_on"], f["rule"]["detail"]["targets"])
            for f in evaluation["compliant"]["findings"] if f["check"] == "use_additional"]


def test_a_reloaded_release_is_evaluated_with_its_new_notes_at_once(
    clean_graph: Driver, settings: Settings, api_keys, engine, maintainer, tabulars: tuple[Path, Path]
) -> None:  # type: ignore[no-untyped-def]
    with_note, without = tabulars
    load_source(clean_graph, settings, "icd10cm", [with_note], "FY2026")
    keyed = settings.model_copy(update={"api_keys": ",".join(line for _, line in api_keys.values()),
                                        "release_poll_s": 3600.0})
    with TestClient(create_app(keyed)) as client:
        table = _held_table(client)
        out = _evaluation(client, engine)
        assert _read_from(table, client)
        first = _excludes1(out)
        assert _use_additional(out) == [(["A04.71"], "A04", ["A00.9"])]
        assert [(f["codes"], f["rule"]["detail"]["noted_on"], f["rule"]["detail"]["target"]) for f in first] == [
            (["A04.71", "A00.0"], "A04", "A00")]
        assert first[0]["rule"]["release"] == "icd10cm@FY2026"
        assert _excludes1(_evaluation(client, engine)) == first  # asked again: answered from the folded notes

        retracted = client.post("/v1/releases/icd10cm@FY2026/retract", json={"reason": "note corrected"},
                                headers=maintainer)
        assert retracted.status_code == 200, retracted.text
        load_source(clean_graph, settings, "icd10cm", [without], "FY2026")
        rebuilt = _held_table(client)
        assert rebuilt is not table
        reloaded = _evaluation(client, engine)
        assert _read_from(rebuilt, client)
        assert _excludes1(reloaded) == [] and _use_additional(reloaded) == []
        check = client.post("/v1/validate/codes", headers=engine, json={
            "codes": [{"code": "A04.71"}, {"code": "A00.0"}], "date_of_service": "2026-01-10"}).json()
        assert check["excludes1_conflicts"] == []
