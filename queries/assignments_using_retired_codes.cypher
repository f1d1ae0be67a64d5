// name: assignments_using_retired_codes
// description: Current coding assignments that use codes deleted or made non-billable in a newer visible release.
// param: to_release string = "icd10cm@FY2026" -- the newer release id
// example: cypher-shell -f queries/assignments_using_retired_codes.cypher -P 'to_release => "icd10cm@FY2026"'
MATCH (new:Release {id: $to_release})
MATCH (e:Encounter)-[:HAS_ASSIGNMENT]->(a:CodingAssignment)-[:HAS_CODE]->(ac:AssignedCode)-[:ASSIGNS]->(c:Code)
WHERE c.system = new.system AND NOT EXISTS { (:CodingAssignment)-[:SUPERSEDES]->(a) }
OPTIONAL MATCH (c)-[m:IN_RELEASE]->(new)
WITH e, a, ac, c, m WHERE m IS NULL OR NOT m.billable
RETURN e.id AS encounter, a.id AS assignment, a.status AS status, c.code AS code, ac.role AS role,
       CASE WHEN m IS NULL THEN 'deleted' ELSE 'made non-billable' END AS change
ORDER BY encounter, code;
