"""Build, at service start-up, the tables the hot paths read: the current release of each classification
held in memory and the current MS-DRG release. A worker accepts requests only after its start-up, so the
first requests are answered from memory too; a release promoted later is built in the background while
the graph answers."""

from __future__ import annotations

from graph_service.graph import Graph
from graph_service.services.claim_edits import ncci_tables
from graph_service.services.codes import MEMORY_SYSTEMS, code_table
from graph_service.services.drg_facts import drg_tables
from graph_service.services.drg_grouper import SYSTEM as MSDRG
from ontology.code_systems import system


def warm_reference_tables(graph: Graph) -> None:
    catalog = graph.reference.catalog()
    with graph.reference.building_inline():
        for system_id in sorted(MEMORY_SYSTEMS):
            if catalog.of(system_id):
                code_table(graph, system(system_id), catalog.resolve(system_id))
        if catalog.of(MSDRG):
            drg_tables(graph, catalog.resolve(MSDRG).id)
        current = {s: {catalog.resolve(s).id} if catalog.of(s) else set() for s in ("ncci_ptp", "ncci_mue")}
        if current["ncci_ptp"] or current["ncci_mue"]:
            ncci_tables(graph, current["ncci_ptp"], current["ncci_mue"])
