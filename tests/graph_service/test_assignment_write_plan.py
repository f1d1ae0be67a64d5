"""The statement that records coding assignments (the API's and the bulk loader's) finds every node it links by a
seek on that node's unique key, whatever the statistics say when it is planned. Planned on stale statistics (right
after a FHIR load), the server once chose an index scan per cited evidence id: a demo's coding load took 62 s
instead of 3."""

from __future__ import annotations

from typing import Any

from neo4j import Driver

from codegraph.settings import Settings
from graph_service.services.coding import WRITE_ASSIGNMENTS
from ontology.vocabulary import L


def _operators(plan: Any) -> list[tuple[str, str]]:
    found = [(plan["operatorType"], str(plan.get("args", {}).get("Details", "")))]
    for child in plan.get("children", []):
        found += _operators(child)
    return found


def test_every_lookup_of_the_assignment_write_is_a_unique_key_seek(driver: Driver, settings: Settings) -> None:
    summary = driver.execute_query(f"EXPLAIN {WRITE_ASSIGNMENTS}", rows=[], release="r", run="x",
                                   database_=settings.neo4j_database).summary
    assert summary.plan is not None
    operators = _operators(summary.plan)
    seeks = " | ".join(details for op, details in operators if op.startswith("NodeUniqueIndexSeek"))
    for key in (f"{L.Encounter}(id)", f"{L.CodingAssignment}(id)", f"{L.MSDRG}(key)", f"{L.Code}(key)",
                f"{L.Evidence}(id)", f"{L.Coder}(id)"):
        assert f":{key}" in seeks, (key, operators)
    scans = [(op, d) for op, d in operators if "Scan" in op]
    assert not scans, scans
