"""What one release changes against another, and what in the graph a new release would break.

The diff is the exact set difference of the two releases' codes (added, deleted, title revised,
billable changed). When either side was loaded from a billable-only code list, both sides are
restricted to billable codes so the comparison is like for like. Chapters and sections are
structure, not codes, and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from neo4j import Driver, RoutingControl

from ontology.vocabulary import L, R

# Classification structure, not codes of the code files: left out of diffs.
STRUCTURAL_KINDS = ["chapter", "section", "table", "body_system"]

RELEASE_COVERAGE = f"""
MATCH (r:{L.Release}) WHERE r.id IN [$from, $to]
RETURN r.id AS id, r.coverage AS coverage
"""

# The diff as set operations on the releases' memberships, done in the graph: each side's codes are walked
# once and only the differences come back (shipping both releases' 100k codes to compare them here took most
# of a load's diff step). A code node is shared, so "in both" is one short expansion from the code.
CHANGED_OR_ADDED = f"""
MATCH (:{L.Release} {{id: $to}})<-[n:{R.IN_RELEASE}]-(c:{L.Code})
WHERE NOT coalesce(n.kind, '') IN $structural AND (NOT $billable_only OR n.billable)
OPTIONAL MATCH (c)-[o:{R.IN_RELEASE}]->(:{L.Release} {{id: $from}})
WITH c, n, o WHERE o IS NULL OR coalesce(o.kind, '') IN $structural OR ($billable_only AND NOT o.billable)
   OR trim(coalesce(o.title, '')) <> trim(coalesce(n.title, ''))
   OR coalesce(o.billable, false) <> coalesce(n.billable, false)
RETURN c.code AS code,
       o IS NULL OR coalesce(o.kind, '') IN $structural OR ($billable_only AND NOT o.billable) AS added,
       o.title AS old_title, n.title AS new_title,
       coalesce(o.billable, false) AS old_billable, coalesce(n.billable, false) AS new_billable
"""

DELETED = f"""
MATCH (:{L.Release} {{id: $from}})<-[o:{R.IN_RELEASE}]-(c:{L.Code})
WHERE NOT coalesce(o.kind, '') IN $structural AND (NOT $billable_only OR o.billable)
  AND NOT EXISTS {{
    MATCH (c)-[n:{R.IN_RELEASE}]->(:{L.Release} {{id: $to}})
    WHERE NOT coalesce(n.kind, '') IN $structural AND (NOT $billable_only OR n.billable)
  }}
RETURN c.code AS code
"""

IMPACT = f"""
UNWIND $keys AS key
MATCH (c:{L.Code} {{key: key}})
CALL (c) {{
  OPTIONAL MATCH (mr:{L.MapRule})-[:{R.MAPS_TO}]->(c) RETURN 'map_rows' AS kind, mr.id AS ref
  UNION
  OPTIONAL MATCH (p:{L.PolicyRule})-[:{R.COVERS_DIAGNOSIS}|{R.DENIES_DIAGNOSIS}]->(c)
  RETURN 'payer_policy_rules' AS kind, p.key AS ref
  UNION
  OPTIONAL MATCH (c)-[:{R.COVERED_BY}]->(p:{L.PolicyRule}) RETURN 'payer_policy_rules' AS kind, p.key AS ref
  UNION
  OPTIONAL MATCH (c)-[e:{R.BUNDLES}]-(o) RETURN 'ncci_edits' AS kind, c.code + '~' + o.code + '@' + e.release AS ref
  UNION
  OPTIONAL MATCH (c)-[:{R.HAS_MUE}]->(m:{L.MUE}) RETURN 'mue_edits' AS kind, m.key AS ref
  UNION
  OPTIONAL MATCH (c)-[:{R.HAS_SEVERITY}]->(s:{L.SeverityDesignation}) RETURN 'cc_mcc_designations' AS kind, s.key AS ref
  UNION
  OPTIONAL MATCH (a:{L.CodingAssignment})-[:{R.HAS_CODE}]->(:{L.AssignedCode})-[:{R.ASSIGNS}]->(c)
  WHERE NOT EXISTS {{ (:{L.CodingAssignment})-[:{R.SUPERSEDES}]->(a) }}
  RETURN 'coding_assignments' AS kind, a.id AS ref
}}
WITH kind, c.code AS code, ref WHERE ref IS NOT NULL
RETURN kind, count(DISTINCT ref) AS references, collect(DISTINCT code)[..20] AS codes
"""


@dataclass
class ReleaseDiff:
    system: str
    from_release: str
    to_release: str
    scope: str  # "all codes" | "billable codes"
    added: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    title_revised: list[str] = field(default_factory=list)
    billable_changed: list[str] = field(default_factory=list)
    made_non_billable: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"added": len(self.added), "deleted": len(self.deleted), "title_revised": len(self.title_revised),
                "billable_changed": len(self.billable_changed), "made_non_billable": len(self.made_non_billable)}


def diff_releases(driver: Driver, database: str, system: str, from_id: str, to_id: str) -> ReleaseDiff:
    def read(cypher: str, **params: Any) -> list[Any]:
        records, _, _ = driver.execute_query(cypher, params, database_=database, routing_=RoutingControl.READ)
        return records

    coverage = {r["id"]: r["coverage"] for r in read(RELEASE_COVERAGE, **{"from": from_id, "to": to_id})}
    for release_id in (from_id, to_id):
        if release_id not in coverage:
            raise KeyError(f"release {release_id!r} is not in the graph")
    billable_only = "billable-only" in coverage.values()
    params = {"from": from_id, "to": to_id, "structural": STRUCTURAL_KINDS, "billable_only": billable_only}
    changed = read(CHANGED_OR_ADDED, **params)
    common = [r for r in changed if not r["added"]]
    return ReleaseDiff(
        system=system, from_release=from_id, to_release=to_id,
        scope="billable codes" if billable_only else "all codes",
        added=sorted(r["code"] for r in changed if r["added"]),
        deleted=sorted(r["code"] for r in read(DELETED, **params)),
        title_revised=sorted(r["code"] for r in common
                             if (r["old_title"] or "").strip() != (r["new_title"] or "").strip()),
        billable_changed=sorted(r["code"] for r in common if r["old_billable"] != r["new_billable"]),
        made_non_billable=sorted(r["code"] for r in common if r["old_billable"] and not r["new_billable"]),
    )


def impact_of(driver: Driver, database: str, system_id: str, codes: list[str]) -> dict[str, Any]:
    """What already in the graph references these codes (deleted or made non-billable by a release)."""
    keys = [f"{system_id}|{c}" for c in codes]
    if system_id == "hcpcs":  # modifiers ride in HCPCS releases but are keyed as their own system
        keys += [f"modifier|{c}" for c in codes if len(c) == 2]
    records, _, _ = driver.execute_query(IMPACT, keys=keys, database_=database, routing_=RoutingControl.READ)
    return {r["kind"]: {"references": r["references"], "example_codes": r["codes"]} for r in records}


def previous_visible_release(driver: Driver, database: str, system: str, release_id: str) -> str | None:
    """The visible release of the system just before ``release_id`` (by effective date), else the newest."""
    records, _, _ = driver.execute_query(
        f"""
        MATCH (new:{L.Release} {{id: $id}})
        MATCH (r:{L.Release} {{system: $system, status: 'visible'}}) WHERE r.id <> $id
        WITH new, r ORDER BY CASE WHEN r.effective_from < new.effective_from THEN 0 ELSE 1 END,
                             r.effective_from DESC, r.version DESC
        RETURN r.id AS id LIMIT 1
        """,
        id=release_id, system=system, database_=database, routing_=RoutingControl.READ,
    )
    return records[0]["id"] if records else None


def diff_and_impact(driver: Driver, database: str, ctx: Any) -> dict[str, Any]:
    """The after-staging report of a code release: diff against the previous visible release and
    the impact of its deletions and billable→non-billable changes on what the graph holds."""
    system = ctx.release.system
    previous = previous_visible_release(driver, database, system, ctx.release.id)
    if previous is None:
        return {"diff": None, "impact": {}, "note": f"first visible {system} release"}
    diff = diff_releases(driver, database, system, previous, ctx.release.id)
    broken = sorted(set(diff.deleted) | set(diff.made_non_billable))
    return {
        "diff": {"from": previous, "to": ctx.release.id, "scope": diff.scope, **diff.counts(),
                 "examples": {"added": diff.added[:10], "deleted": diff.deleted[:10],
                              "title_revised": diff.title_revised[:10]}},
        "impact": impact_of(driver, database, system, broken),
    }
