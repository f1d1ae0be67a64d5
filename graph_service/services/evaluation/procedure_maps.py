"""Procedure maps held in memory: a SNOMED CT procedure concept → billing codes, with the conditions
(``dependsOn``) each target needs and the modifiers it calls for, from the visible ``procedure_maps`` releases."""

from __future__ import annotations

from dataclasses import dataclass

from neo4j import Driver

from graph_service.blocking import check_may_block
from graph_service.graph import Graph
from graph_service.models.evaluation import EvidenceIn, RuleRef
from ontology.vocabulary import L, R

SYSTEM = "procedure_maps"

MAPS = f"""
MATCH (m:{L.ProcedureMap})-[:{R.IN_RELEASE}]->(rel:{L.Release} {{status: 'visible'}})
WHERE rel.system = $system
RETURN m.key AS key, m.source_code AS source, m.target_system AS system, m.target_code AS code,
       m.condition_values AS conditions, m.modifiers AS modifiers, m.equivalence AS equivalence,
       m.source_file AS source_file, rel.id AS release
"""


@dataclass(frozen=True)
class ProcedureMap:
    key: str
    source: str
    system: str
    code: str
    conditions: frozenset[str]
    modifiers: tuple[str, ...]
    equivalence: str
    source_file: str | None
    release: str

    def ref(self) -> RuleRef:
        return RuleRef(id=self.key, kind="ProcedureMap", label=L.ProcedureMap, release=self.release,
                       source_file=self.source_file,
                       detail={"target": f"{self.system}:{self.code}", "conditions": sorted(self.conditions),
                               "modifiers": list(self.modifiers)})


def build_maps(driver: Driver, database: str) -> dict[str, list[ProcedureMap]]:
    records, _, _ = driver.execute_query(MAPS, system=SYSTEM, database_=database, routing_="r")
    out: dict[str, list[ProcedureMap]] = {}
    for r in records:
        out.setdefault(r["source"], []).append(ProcedureMap(
            key=r["key"], source=r["source"], system=r["system"], code=r["code"],
            conditions=frozenset(r["conditions"] or ()), modifiers=tuple(r["modifiers"] or ()),
            equivalence=r["equivalence"], source_file=r["source_file"], release=r["release"]))
    return out


def procedure_maps(graph: Graph) -> dict[str, list[ProcedureMap]]:
    store = graph.reference
    catalog = store.catalog()
    if not catalog.of(SYSTEM):
        return {}
    table = store.table((SYSTEM,), catalog.fingerprint(SYSTEM), lambda: build_maps(graph.driver, graph.database))
    if table is None:
        check_may_block()
        table = build_maps(graph.driver, graph.database)
    return table


@dataclass(frozen=True)
class MappedProcedure:
    evidence: str
    concept: str
    map: ProcedureMap


@dataclass(frozen=True)
class UndecidedProcedure:
    evidence: str
    concept: str
    why: str


def map_procedures(maps: dict[str, list[ProcedureMap]], evidence: list[EvidenceIn]
                   ) -> tuple[list[MappedProcedure], list[UndecidedProcedure]]:
    """The billing codes each procedure statement maps to: a target applies when every one of its conditions is
    among the statement's qualifiers; a concept whose targets all need a condition the statement lacks is undecided."""
    mapped: list[MappedProcedure] = []
    undecided: list[UndecidedProcedure] = []
    for x in evidence:
        qualifiers = set(x.qualifiers)
        for concept in x.snomed:
            targets = maps.get(concept, [])
            if not targets:
                continue
            fits = [m for m in targets if m.conditions <= qualifiers]
            mapped += [MappedProcedure(x.id, concept, m) for m in fits]
            needed = sorted({c for m in targets for c in m.conditions} - qualifiers)
            systems_fit = {m.system for m in fits}
            if any(m.system not in systems_fit for m in targets):
                undecided.append(UndecidedProcedure(
                    x.id, concept, f"the map's targets need a condition the statement does not document "
                                   f"(one of {', '.join(needed)}: e.g. laterality)"))
    return mapped, undecided
