"""The evaluation checks a claim's ICD-10-CM codes with its own copy of validation's note matching
(``evaluation.code_checks``, folded instructions cached per release): on random note-rich code sets of the real
FY2026 release it answers exactly what ``validation.check_codes`` answers — validity, Excludes1 conflicts and the
unmet or mis-sequenced code first / use additional instructions — from the release table and from the graph."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from graph_service.graph import Graph
from graph_service.models.validation import ValidateCodesOut
from graph_service.reference.store import ReferenceStore
from graph_service.services.codes import code_table
from graph_service.services.evaluation.code_checks import CodeChecks, check_claim_codes
from graph_service.services.validation import check_codes
from ontology.code_systems import system

pytestmark = pytest.mark.usefixtures("reference_graph")
RELEASE = "icd10cm@FY2026"
ON = date(2026, 3, 1)


@pytest.fixture(scope="module")
def graphs(driver: Driver, settings: Settings) -> tuple[Graph, Graph]:
    db = settings.neo4j_database
    return (Graph(driver, db, ReferenceStore(driver, db)),
            Graph(driver, db, ReferenceStore(driver, db, tables=False)))


def _validation(out: ValidateCodesOut) -> tuple[Any, ...]:
    return (dict(out.releases),
            [(v.system, v.code, v.release, v.exists, v.billable, v.reason) for v in out.codes],
            [(c.code, c.excluded, c.noted_on, c.target, c.note) for c in out.excludes1_conflicts],
            [(r.code, r.kind, r.noted_on, list(r.targets), list(r.notes), list(r.met_by))
             for r in out.unmet_requirements])


def _evaluation(out: CodeChecks) -> tuple[Any, ...]:
    return (out.releases,
            [(c.system, c.code, c.release, c.exists, c.billable, c.reason) for c in out.codes],
            [(e.code, e.excluded, e.noted_on, e.target, e.note) for e in out.excludes1],
            [(r.code, r.kind, r.noted_on, list(r.targets), list(r.notes), list(r.met_by)) for r in out.unmet])


def test_the_evaluation_checks_codes_as_validation_does(graphs: tuple[Graph, Graph]) -> None:
    memory, graph = graphs
    table = code_table(memory, system("icd10cm"), memory.reference.catalog().resolve("icd10cm", RELEASE))
    assert table is not None and code_table(graph, system("icd10cm"), graph.reference.catalog().resolve(
        "icd10cm", RELEASE)) is None  # one reads the release table, the other the graph
    codes = [r["code"] for r in graph.read(
        "MATCH (c:Code)-[:IN_RELEASE]->(:Release {id: $release}) RETURN c.code AS code ORDER BY code",
        release=RELEASE)]
    noted = [r["code"] for r in graph.read(
        "MATCH (c:Code)-[:IN_RELEASE]->(:Release {id: $release}) "
        "WHERE EXISTS { MATCH (c)-[:IS_A*0..4 {release: $release}]->()"
        "-[:EXCLUDES1|CODE_FIRST|USE_ADDITIONAL {release: $release}]->() } "
        "RETURN c.code AS code ORDER BY code", release=RELEASE)]
    # Targets of the notes too, so that sets meet (or mis-sequence) instructions and hit exclusions.
    targets = [r["code"] for r in graph.read(
        "MATCH (:Code)-[n:EXCLUDES1|CODE_FIRST|USE_ADDITIONAL {release: $release}]->(t:Code)-[:IN_RELEASE]->"
        "(:Release {id: $release}) RETURN DISTINCT t.code AS code ORDER BY code", release=RELEASE)]
    rnd = random.Random(12)
    counted = {"excludes1": 0, "unmet": 0, "headers": 0}
    for _ in range(300):
        picked = rnd.sample(noted, 5) + rnd.sample(targets, 4) + rnd.sample(codes, 2) + ["XX9.99"]
        rnd.shuffle(picked)
        claim = [("icd10cm", c) for c in dict.fromkeys(picked)]
        expected = _validation(check_codes(graph, claim, ON))
        assert _validation(check_codes(memory, claim, ON)) == expected, picked
        assert _evaluation(check_claim_codes(memory, claim, ON)) == expected, picked
        assert _evaluation(check_claim_codes(graph, claim, ON)) == expected, picked
        counted["excludes1"] += len(expected[2])
        counted["unmet"] += len(expected[3])
        counted["headers"] += sum(1 for c in expected[1] if c[4] is False)
    assert sum(name == "evaluation_notes" for name, _ in table._derived) > 1000  # the table path was taken
    # The sample exercised the notes and the headers, not only existence.
    assert counted["excludes1"] > 50 and counted["unmet"] > 300 and counted["headers"] > 50, counted
