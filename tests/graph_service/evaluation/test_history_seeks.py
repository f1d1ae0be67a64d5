"""The evaluation's history of similar encounters starts from index seeks (codings by MS-DRG, principal codes by
category prefix) instead of reading every final or amended coding: it stays fast as encounters accumulate."""

from __future__ import annotations

from neo4j import Driver

from codegraph.settings import Settings
from graph_service.services.evaluation.history import SIMILAR
from ontology.vocabulary import L
from tests.graph_service.plans import plan_operators


def test_similar_codings_are_found_by_index_seeks_not_by_scanning_codings(driver: Driver, settings: Settings) -> None:
    summary = driver.execute_query(f"EXPLAIN {SIMILAR}", category="I50", drg="291", payer=None, exclude=None,
                                   database_=settings.neo4j_database).summary
    assert summary.plan is not None
    operators = plan_operators(summary.plan)
    seeks = [details for op, details in operators if "IndexSeek" in op]
    assert any(f":{L.CodingAssignment}(drg)" in d for d in seeks), operators
    assert any(f":{L.AssignedCode}(code)" in d for d in seeks), operators
    assert not [op for op, details in operators if "LabelScan" in op and L.CodingAssignment in details], operators
    assert not [op for op, _ in operators if op.startswith("AllNodesScan")], operators
