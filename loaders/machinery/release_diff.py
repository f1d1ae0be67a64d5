"""What one release changes against another, and what in the graph a new release would break.

The diff is the exact set difference of the two releases' codes. When either side was loaded from a
billable-only code list, both sides are restricted to billable codes so the comparison is like for like.
Chapters and sections are structure, not codes, and are left out. A code of the older release that the
newer one no longer bills is exactly one of (the same words in the impact report and
``queries/release_impact.cypher``):

* ``expanded`` — it was billable and the newer release bills codes that extend it instead (B88.0 →
  B88.01, B88.09), whether it stays as their header or not;
* ``deleted`` — the newer release does not list it at all;
* ``made non-billable`` — the newer release still lists it, as a header, with no new subcodes.

Besides those: ``added``, ``title_revised`` (old and new title) and ``billable_changed`` (either way).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from neo4j import Driver, RoutingControl

from loaders.ncci import ptp_ranges
from ontology.release_ranges import code_scope, members, valid_in, valid_in_not_in
from ontology.vocabulary import L, R

# Classification structure, not codes of the code files: left out of diffs.
STRUCTURAL_KINDS = ["chapter", "section", "table", "body_system"]

RELEASE_COVERAGE = f"""
MATCH (r:{L.Release}) WHERE r.id IN [$from, $to]
RETURN r.id AS id, r.coverage AS coverage
"""

# The diff as set operations on the releases' memberships, done in the graph: each side's codes are walked
# once and only the differences come back (shipping both releases' 100k codes to compare them here took most
# of a load's diff step). A code node is shared, so "in both" is one short expansion from the code; a membership
# valid in both releases (stored once over a range of them: ontology/release_ranges.py) is the same relationship,
# so unchanged: each side walks only the ranges the other does not share, which for a release and the one before
# it in its chain are its own few thousand (``valid_in_not_in``).
SCOPES = f"""
MATCH (old:{L.Release} {{id: $from}}), (new:{L.Release} {{id: $to}})
WITH {code_scope('old')} AS old_scope, {code_scope('new')} AS new_scope
"""

CHANGED_OR_ADDED = f"""
{SCOPES}
{valid_in_not_in('new_scope', 'old_scope', 'c', 'n')}
WITH c, n, old_scope WHERE NOT coalesce(n.kind, '') IN $structural AND (NOT $billable_only OR n.billable)
OPTIONAL MATCH (c)-[o:{R.IN_RELEASE}]->(:{L.Release}) WHERE {valid_in('o', 'old_scope')}
WITH c, n, o WHERE o IS NULL OR coalesce(o.kind, '') IN $structural OR ($billable_only AND NOT o.billable)
   OR trim(coalesce(o.title, '')) <> trim(coalesce(n.title, ''))
   OR coalesce(o.billable, false) <> coalesce(n.billable, false)
RETURN c.code AS code,
       o IS NULL OR coalesce(o.kind, '') IN $structural OR ($billable_only AND NOT o.billable) AS added,
       o.title AS old_title, n.title AS new_title,
       coalesce(o.billable, false) AS old_billable, coalesce(n.billable, false) AS new_billable
"""

# Codes of the older release (in scope) that the newer one drops or no longer bills, with the billable codes of
# the newer release that extend each one (found by a prefix seek on the code index: the subcodes it was expanded
# into). ``still_listed``: the newer release keeps it (as a header).
NO_LONGER_BILLED = f"""
{SCOPES}
{valid_in_not_in('old_scope', 'new_scope', 'c', 'o')}
WITH c, o, new_scope WHERE NOT coalesce(o.kind, '') IN $structural AND (NOT $billable_only OR o.billable)
OPTIONAL MATCH (c)-[n:{R.IN_RELEASE}]->(:{L.Release}) WHERE {valid_in('n', 'new_scope')}
WITH c, o, new_scope, CASE WHEN coalesce(n.kind, '') IN $structural THEN null ELSE n END AS n
WHERE n IS NULL OR (o.billable AND NOT coalesce(n.billable, false))
CALL (c, o, new_scope) {{
  WITH c, o, new_scope WHERE o.billable
  MATCH (x:{L.Code}) USING INDEX x:{L.Code}(code)
  WHERE x.code STARTS WITH c.code AND x.system = c.system AND x <> c
  MATCH (x)-[xm:{R.IN_RELEASE}]->(:{L.Release}) WHERE {valid_in('xm', 'new_scope')} AND xm.billable
  RETURN collect(x.code) AS subcodes
}}
RETURN c.code AS code, n IS NOT NULL AS still_listed, subcodes
"""

FROM_CODES = f"""
MATCH (old:{L.Release} {{id: $from}})
WITH {code_scope('old')} AS old_scope
{members('old_scope', 'c', 'o')}
  AND NOT coalesce(o.kind, '') IN $structural AND (NOT $billable_only OR o.billable)
RETURN count(*) AS codes
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
  // NCCI edits valid in a visible quarter (each edge is stored over a range of quarters: loaders.ncci.ptp_ranges)
  OPTIONAL MATCH (c)-[e:{R.BUNDLES}]-(o)
  WHERE EXISTS {{ MATCH (rel:{L.Release} {{system: '{ptp_ranges.SYSTEM}', status: 'visible'}})
                 WHERE {ptp_ranges.valid_in('e', ptp_ranges.SCOPE)} }}
  RETURN 'ncci_edits' AS kind, c.code + '~' + o.code + '@' + e.release AS ref
  UNION
  OPTIONAL MATCH (c)-[:{R.HAS_MUE}]->(m:{L.MUE}) RETURN 'mue_edits' AS kind, m.key AS ref
  UNION
  OPTIONAL MATCH (c)-[:{R.HAS_SEVERITY}]->(s:{L.SeverityDesignation}) RETURN 'cc_mcc_designations' AS kind, s.key AS ref
  UNION
  OPTIONAL MATCH (a:{L.CodingAssignment})-[:{R.HAS_CODE}]->(:{L.AssignedCode})-[:{R.ASSIGNS}]->(c)
  WHERE NOT EXISTS {{ (:{L.CodingAssignment})-[:{R.SUPERSEDES}]->(a) }}
  RETURN 'open_coding_assignments' AS kind, a.id AS ref
}}
WITH kind, c.code AS code, ref WHERE ref IS NOT NULL
RETURN kind, count(DISTINCT ref) AS references, count(DISTINCT code) AS code_count,
       collect(DISTINCT code)[..20] AS codes,
       collect(DISTINCT ref)[..20] AS refs
"""

# What the impact report looks at, in the words of the report and queries/release_impact.cypher.
IMPACT_KINDS = {
    "map_rows": "SNOMED CT map rows targeting the code",
    "payer_policy_rules": "payer and MCD policy rules covering or denying it",
    "ncci_edits": "NCCI procedure-to-procedure edits on it",
    "mue_edits": "medically unlikely edits on it",
    "cc_mcc_designations": "MS-DRG CC/MCC designations of it",
    "open_coding_assignments": "open (not superseded) coding assignments using it",
}


@dataclass(frozen=True)
class TitleRevision:
    code: str
    old_title: str
    new_title: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "old_title": self.old_title, "new_title": self.new_title}


@dataclass
class ReleaseDiff:
    system: str
    from_release: str
    to_release: str
    scope: str  # "all codes" | "billable codes"
    from_codes: int = 0  # codes of the older release in scope (the base of the deletion share)
    added: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    expanded: dict[str, list[str]] = field(default_factory=dict)  # code → the new subcodes that replace it
    made_non_billable: list[str] = field(default_factory=list)
    title_revised: list[TitleRevision] = field(default_factory=list)
    billable_changed: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"added": len(self.added), "deleted": len(self.deleted), "expanded": len(self.expanded),
                "made_non_billable": len(self.made_non_billable), "title_revised": len(self.title_revised),
                "billable_changed": len(self.billable_changed)}

    def no_longer_billed(self) -> list[str]:
        """Deleted, expanded and made non-billable: the codes whose users the impact report looks for."""
        return sorted({*self.deleted, *self.expanded, *self.made_non_billable})


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
    # Three independent reads, each a walk of one release's ~100k memberships on one server thread: side by side
    # they use the server's other core, which waits while a load diffs (0.9 -> 0.5 s for FY2025 -> FY2026).
    with ThreadPoolExecutor(3, thread_name_prefix="release-diff") as pool:
        changed_f, lost_f, from_codes_f = (pool.submit(read, q, **params)
                                           for q in (CHANGED_OR_ADDED, NO_LONGER_BILLED, FROM_CODES))
        changed, lost, from_codes = changed_f.result(), lost_f.result(), from_codes_f.result()[0]["codes"]
    common = [r for r in changed if not r["added"]]
    expanded = {r["code"]: sorted(r["subcodes"]) for r in lost if r["subcodes"]}
    return ReleaseDiff(
        system=system, from_release=from_id, to_release=to_id,
        scope="billable codes" if billable_only else "all codes",
        from_codes=from_codes,
        added=sorted(r["code"] for r in changed if r["added"]),
        deleted=sorted(r["code"] for r in lost if not r["still_listed"] and r["code"] not in expanded),
        expanded=dict(sorted(expanded.items())),
        made_non_billable=sorted(r["code"] for r in lost if r["still_listed"] and r["code"] not in expanded),
        title_revised=sorted(
            (TitleRevision(r["code"], (r["old_title"] or "").strip(), (r["new_title"] or "").strip()) for r in common
             if (r["old_title"] or "").strip() != (r["new_title"] or "").strip()),
            key=lambda t: t.code,
        ),
        billable_changed=sorted(r["code"] for r in common if r["old_billable"] != r["new_billable"]),
    )


def impact_of(driver: Driver, database: str, system_id: str, codes: list[str]) -> dict[str, Any]:
    """What already in the graph references these codes (deleted, expanded or made non-billable by a release).

    Every kind looked at is reported, with zero references where nothing uses the codes, so an empty
    answer is never confused with a question not asked; ``verdict`` says it in one line."""
    keys = [f"{system_id}|{c}" for c in codes]
    if system_id == "hcpcs":  # modifiers ride in HCPCS releases but are keyed as their own system
        keys += [f"modifier|{c}" for c in codes if len(c) == 2]
    records, _, _ = driver.execute_query(IMPACT, keys=keys, database_=database, routing_=RoutingControl.READ)
    found = {r["kind"]: r for r in records}
    kinds = {
        kind: {"what": what, "references": found[kind]["references"] if kind in found else 0,
               "codes": found[kind]["code_count"] if kind in found else 0,
               "examples": found[kind]["refs"] if kind in found else [],
               "example_codes": found[kind]["codes"] if kind in found else []}
        for kind, what in IMPACT_KINDS.items()
    }
    looked = f"looked at {', '.join(IMPACT_KINDS)} for the {len(codes):,} codes deleted, expanded or made non-billable"
    used = [f"{k['references']:,} {kind} ({k['codes']:,} codes)" for kind, k in kinds.items() if k["references"]]
    verdict = f"none: {looked}" if not used else f"{'; '.join(used)}: {looked}"
    return {"verdict": verdict, "codes_checked": len(codes), **kinds}


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
        note = f"not computed: no other visible {system} release to compare with (first release)"
        return {"diff": None, "impact": {"verdict": note}, "note": note}
    diff = diff_releases(driver, database, system, previous, ctx.release.id)
    if diff.expanded and ctx.release.id == diff.to_release:
        link_expansions(ctx, diff)
    return {
        "diff": {"from": previous, "to": ctx.release.id, "scope": diff.scope, "from_codes": diff.from_codes,
                 "previous_is_older": _is_older(driver, database, previous, ctx.release.id), **diff.counts(),
                 "examples": {"added": diff.added[:10], "deleted": diff.deleted[:10],
                              "expanded": dict(list(diff.expanded.items())[:10]),
                              "made_non_billable": diff.made_non_billable[:10],
                              "title_revised": [t.as_dict() for t in diff.title_revised[:10]]}},
        "impact": impact_of(driver, database, system, diff.no_longer_billed()),
    }


# An expanded code points at the subcodes that replace it, under the new release (so the link appears and goes
# with it), whether the new release drops the code altogether or keeps it as their header.
LINK_EXPANSIONS = f"""
UNWIND $pairs AS pair
MATCH (d:{L.Code} {{key: pair[0]}}), (n:{L.Code} {{key: pair[1]}})
MERGE (d)-[r:{R.REPLACED_BY} {{release: $release}}]->(n)
  ON CREATE SET r.load_run = $run, r.from_release = $previous, r.basis = 'expanded into subcodes'
"""


def link_expansions(ctx: Any, diff: ReleaseDiff) -> None:
    """REPLACED_BY from each expanded code to its new subcodes, also where the code stays as their header."""
    pairs = [[f"{diff.system}|{code}", f"{diff.system}|{sub}"] for code, subs in diff.expanded.items() for sub in subs]
    counters = ctx.writer.run("replaced_by expanded", LINK_EXPANSIONS, {"pairs": pairs, "previous": diff.from_release})
    ctx.counts["replaced_by_expanded"] = counters.relationships_created


def _is_older(driver: Driver, database: str, previous: str, release_id: str) -> bool:
    """Whether ``previous`` came into force before ``release_id`` (a back-filled older release is compared with
    a newer one: that diff is reported but is no reason to hold the load)."""
    records, _, _ = driver.execute_query(
        f"""MATCH (p:{L.Release} {{id: $previous}}), (r:{L.Release} {{id: $id}})
            RETURN coalesce(p.effective_from < r.effective_from, p.version < r.version) AS older""",
        previous=previous, id=release_id, database_=database, routing_=RoutingControl.READ,
    )
    return bool(records and records[0]["older"])
