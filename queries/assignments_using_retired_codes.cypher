// name: assignments_using_retired_codes
// description: Current coding assignments that use codes deleted or made non-billable in a newer visible release.
// param: to_release string = "icd10cm@FY2026" -- the newer release id
// example: cypher-shell -f queries/assignments_using_retired_codes.cypher -P 'to_release => "icd10cm@FY2026"'
MATCH (new:Release {id: $to_release})
// A code's membership is stored over a range of releases: valid in `new` when it started in its scope and did not
// end there (ontology/release_ranges.py).
WITH new, coalesce(new.code_scope, [new.id]) AS scope
MATCH (e:Encounter)-[:HAS_ASSIGNMENT]->(a:CodingAssignment)-[:HAS_CODE]->(ac:AssignedCode)-[:ASSIGNS]->(c:Code)
WHERE c.system = new.system AND NOT EXISTS { (:CodingAssignment)-[:SUPERSEDES]->(a) }
OPTIONAL MATCH (c)-[m:IN_RELEASE]->(:Release) WHERE m.release IN scope AND (m.until IS NULL OR NOT m.until IN scope)
WITH e, a, ac, c, m WHERE m IS NULL OR NOT m.billable
RETURN e.id AS encounter, a.id AS assignment, a.status AS status, c.code AS code, ac.role AS role,
       CASE WHEN m IS NULL THEN 'deleted' ELSE 'made non-billable' END AS change
ORDER BY encounter, code;
