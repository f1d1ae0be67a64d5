// name: release_impact
// description: For two releases of a code system, every code of the older one that the newer one no longer
// description: bills, in the words of the release diff and the load report: 'expanded' (it was billable and the
// description: newer release bills codes that extend it instead), 'deleted' (not listed at all) or 'made
// description: non-billable' (kept as a header, no new subcodes); and per code the map rows, payer policy rules,
// description: NCCI edits (valid in a visible quarter), MUEs, CC/MCC designations and open coding assignments that
// description: use it. Chapters and sections are left out; when either release came from a billable-only code
// description: list, only billable codes of the older release are compared (as the diff does).
// param: from_release string = "icd10cm@FY2025" -- the older release id
// param: to_release string = "icd10cm@FY2026" -- the newer release id
// example: cypher-shell -f queries/release_impact.cypher -P 'from_release => "icd10cm@FY2025"' -P 'to_release => "icd10cm@FY2026"'
MATCH (old:Release {id: $from_release}), (new:Release {id: $to_release})
// A code's membership is stored over a range of releases (ontology/release_ranges.py): valid in a release when it
// started in the release's scope and did not end there. The old release's codes: the ranges started in its scope.
WITH coalesce(old.code_scope, [old.id]) AS old_scope, coalesce(new.code_scope, [new.id]) AS new_scope,
     ['chapter', 'section', 'table', 'body_system'] AS structural,
     'billable-only' IN [old.coverage, new.coverage] AS billable_only
UNWIND old_scope AS started
MATCH (:Release {id: started})<-[o:IN_RELEASE]-(c:Code)
WHERE (o.until IS NULL OR NOT o.until IN old_scope)
  AND NOT coalesce(o.kind, '') IN structural AND (o.billable OR NOT billable_only)
OPTIONAL MATCH (c)-[m:IN_RELEASE]->(:Release)
  WHERE m.release IN new_scope AND (m.until IS NULL OR NOT m.until IN new_scope)
WITH new_scope, c, o, CASE WHEN coalesce(m.kind, '') IN structural THEN null ELSE m END AS n
WHERE n IS NULL OR (o.billable AND NOT coalesce(n.billable, false))
WITH c, n, o.billable AND EXISTS {
  MATCH (x:Code) WHERE x.code STARTS WITH c.code AND x.system = c.system AND x <> c
    AND EXISTS { (x)-[xm:IN_RELEASE]->(:Release)
                 WHERE xm.billable AND xm.release IN new_scope AND (xm.until IS NULL OR NOT xm.until IN new_scope) }
} AS expanded
RETURN c.code AS code,
       CASE WHEN expanded THEN 'expanded' WHEN n IS NULL THEN 'deleted' ELSE 'made non-billable' END AS change,
       COUNT { (:MapRule)-[:MAPS_TO]->(c) } AS map_rows,
       COUNT { MATCH (p:PolicyRule) WHERE (p)-[:COVERS_DIAGNOSIS|DENIES_DIAGNOSIS]->(c) OR (c)-[:COVERED_BY]->(p) }
         AS payer_policy_rules,
       COUNT { MATCH (c)-[e:BUNDLES]-()
               WHERE EXISTS { MATCH (q:Release {system: 'ncci_ptp', status: 'visible'})
                              WITH e, coalesce(q.ptp_scope, [q.id]) AS scope
                              WHERE e.release IN scope AND (e.until IS NULL OR NOT e.until IN scope) } } AS ncci_edits,
       COUNT { (c)-[:HAS_MUE]->(:MUE) } AS mue_edits,
       COUNT { (c)-[:HAS_SEVERITY]->(:SeverityDesignation) } AS cc_mcc_designations,
       COUNT { MATCH (a:CodingAssignment)-[:HAS_CODE]->(:AssignedCode)-[:ASSIGNS]->(c)
               WHERE NOT EXISTS { (:CodingAssignment)-[:SUPERSEDES]->(a) } RETURN DISTINCT a } AS open_coding_assignments
ORDER BY map_rows + payer_policy_rules + ncci_edits + mue_edits + cc_mcc_designations + open_coding_assignments DESC,
         code;
