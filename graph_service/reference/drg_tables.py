"""One MS-DRG release held in process: Table 5 (weights, titles, MDC), Tables 6I/6J (CC/MCC designations)
and Table 6K (the PDX exclusion collections with their members).

A what-if groups several claims per request and explains each one from these tables; reading them from
the graph cost three quarters of the request. They never change within a release.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neo4j import Driver, Record

from ontology.vocabulary import L, R

DRGS = f"""
MATCH (d:{L.MSDRG})-[:{R.IN_RELEASE}]->(:{L.Release} {{id: $release}})
OPTIONAL MATCH (d)-[:{R.IN_MDC} {{release: $release}}]->(m:{L.MDC})
RETURN d.key AS key, d {{.drg, .title, .mdc, .type, .weight, .gmlos, .amlos, .post_acute, .special_pay,
                        mdc_title: m.title}} AS drg
"""
MDCS = f"MATCH (m:{L.MDC}) RETURN m.mdc AS mdc, m.title AS title"
DESIGNATIONS = f"""
MATCH (c:{L.Code})-[:{R.HAS_SEVERITY} {{release: $release}}]->(s:{L.SeverityDesignation})
OPTIONAL MATCH (s)-[:{R.EXCLUDED_WITH} {{release: $release}}]->(col:{L.PDXExclusionCollection})
RETURN c.key AS code_key, col.key AS collection_key,
       s {{.code, .level, .description, .alive_only, .excluded_in_drgs, .excluded_in_drg_groups,
           collection: col.collection}} AS designation
"""
COLLECTION_MEMBERS = f"""
MATCH (c:{L.Code})-[:{R.IN_COLLECTION} {{release: $release}}]->(col:{L.PDXExclusionCollection})
RETURN col.key AS collection_key, collect(c.key) AS members
"""


@dataclass(frozen=True)
class Designation:
    props: dict[str, Any]  # code, level, description, alive_only, excluded_in_drgs, excluded_in_drg_groups, collection
    collection_key: str | None


@dataclass(frozen=True)
class DrgTables:
    release: str
    drgs: dict[str, dict[str, Any]]  # by DRG key (v43|470)
    mdcs: dict[str, str]  # MDC number (05) → title
    designations: dict[str, Designation]  # by ICD-10-CM code key
    collections: dict[str, frozenset[str]]  # PDX exclusion collection key → member code keys

    def designation_for(self, code_key: str, pdx_key: str) -> dict[str, Any] | None:
        """The designation as the explanation reads it, with whether the principal diagnosis cancels it."""
        found = self.designations.get(code_key)
        if found is None:
            return None
        members = self.collections.get(found.collection_key or "", frozenset())
        return {**found.props, "pdx_in_collection": found.collection_key is not None and pdx_key in members}


def build_drg_tables(driver: Driver, database: str, release: str) -> DrgTables:
    def rows(cypher: str) -> list[Record]:
        records, _, _ = driver.execute_query(cypher, release=release, database_=database, routing_="r")
        return records

    # Records unpack in their RETURN order.
    return DrgTables(
        release=release,
        drgs={key: drg for key, drg in rows(DRGS)},
        mdcs={mdc: title for mdc, title in rows(MDCS)},
        designations={code_key: Designation(designation, collection_key)
                      for code_key, collection_key, designation in rows(DESIGNATIONS)},
        collections={key: frozenset(members) for key, members in rows(COLLECTION_MEMBERS)},
    )
