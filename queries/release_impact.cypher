// name: release_impact
// description: For two visible releases of a code system, the codes the newer one deletes or makes
// description: non-billable, and every map row, payer rule, NCCI edit and open coding assignment using them.
// param: from_release string = "icd10cm@FY2025" -- the older release id
// param: to_release string = "icd10cm@FY2026" -- the newer release id
// example: cypher-shell -f queries/release_impact.cypher -P 'from_release => "icd10cm@FY2025"' -P 'to_release => "icd10cm@FY2026"'
MATCH (old:Release {id: $from_release}), (new:Release {id: $to_release})
MATCH (c:Code)-[m:IN_RELEASE]->(old)
WHERE m.billable AND NOT EXISTS { (c)-[n:IN_RELEASE]->(new) WHERE n.billable }
OPTIONAL MATCH (mr:MapRule)-[:MAPS_TO]->(c)
OPTIONAL MATCH (rule:PolicyRule)-[:COVERS_DIAGNOSIS|DENIES_DIAGNOSIS]->(c)
OPTIONAL MATCH (c)-[edit:BUNDLES]-(other:Code)
OPTIONAL MATCH (a:CodingAssignment)-[:HAS_CODE]->(:AssignedCode)-[:ASSIGNS]->(c)
  WHERE NOT EXISTS { (:CodingAssignment)-[:SUPERSEDES]->(a) }
WITH c, EXISTS { (c)-[:IN_RELEASE]->(new) } AS still_listed,
     count(DISTINCT mr) AS map_rows, count(DISTINCT rule) AS payer_rules, count(DISTINCT edit) AS ncci_edits,
     count(DISTINCT a) AS open_assignments
RETURN c.code AS code, CASE WHEN still_listed THEN 'made non-billable' ELSE 'deleted' END AS change,
       map_rows, payer_rules, ncci_edits, open_assignments
ORDER BY map_rows + payer_rules + ncci_edits + open_assignments DESC, code;
