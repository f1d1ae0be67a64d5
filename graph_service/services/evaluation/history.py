"""The history of similar encounters: same principal-diagnosis category or same MS-DRG, same payer — how often
their coding was amended and which way the DRG moved between the first and the latest grouped version."""

from __future__ import annotations

from graph_service.graph import Graph
from graph_service.models.evaluation import HistoryOut
from ontology.vocabulary import L, R

# Encounters are found from index seeks (codings grouped to the DRG, principal codes under the category), not by
# reading every coding; the latest final/amended version of each must then still match.
SIMILAR = f"""
CALL () {{
  MATCH (seed:{L.CodingAssignment}) WHERE $drg IS NOT NULL AND seed.drg = $drg
  RETURN seed
  UNION
  MATCH (ac:{L.AssignedCode}) WHERE ac.code STARTS WITH $category AND ac.role = 'principal'
  MATCH (seed:{L.CodingAssignment})-[:{R.HAS_CODE}]->(ac)
  RETURN seed
}}
MATCH (e:{L.Encounter})-[:{R.HAS_ASSIGNMENT}]->(seed)
WITH DISTINCT e WHERE $exclude IS NULL OR e.id <> $exclude
MATCH (e)-[:{R.HAS_ASSIGNMENT}]->(a:{L.CodingAssignment})
WHERE a.status IN ['final', 'amended'] AND ($payer IS NULL OR a.payer = $payer)
WITH e, a ORDER BY a.version
WITH e, collect(a) AS versions
WITH e, versions, head(versions) AS first, last(versions) AS latest
WHERE ($drg IS NOT NULL AND latest.drg = $drg)
   OR EXISTS {{ MATCH (latest)-[:{R.HAS_CODE}]->(ac:{L.AssignedCode} {{role: 'principal'}})
               WHERE ac.code STARTS WITH $category }}
RETURN count(e) AS encounters, sum(size(versions)) AS assignments,
       sum(CASE WHEN size(versions) > 1 THEN 1 ELSE 0 END) AS amended,
       sum(CASE WHEN size(versions) > 1 AND latest.drg_weight > first.drg_weight THEN 1 ELSE 0 END) AS up,
       sum(CASE WHEN size(versions) > 1 AND latest.drg_weight < first.drg_weight THEN 1 ELSE 0 END) AS down,
       sum(CASE WHEN size(versions) > 1 AND latest.drg_weight = first.drg_weight THEN 1 ELSE 0 END) AS same
"""


def similar_history(graph: Graph, *, principal: str, drg: str | None, payer: str | None,
                    exclude: str | None) -> HistoryOut:
    category = principal.replace(".", "")[:3]
    row = graph.read_one(SIMILAR, category=category, drg=drg, payer=payer, exclude=exclude) or {}
    encounters = row.get("encounters") or 0
    amended = row.get("amended") or 0
    criteria = (f"final/amended codings of other encounters with principal diagnosis in {category}"
                + (f" or MS-DRG {drg}" if drg else "") + (f", payer {payer}" if payer else ", any payer"))
    return HistoryOut(
        criteria=criteria, encounters=encounters, assignments=row.get("assignments") or 0,
        amended_encounters=amended, amendment_rate=round(amended / encounters, 4) if encounters else None,
        drg_up=row.get("up") or 0, drg_down=row.get("down") or 0, drg_same=row.get("same") or 0,
        note=None if encounters else "no similar encounter has been coded yet",
    )
