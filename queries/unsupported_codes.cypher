// name: unsupported_codes
// description: Codes in current (not superseded) final or amended assignments that no evidence supports.
// param: coder string = null -- restrict to one coder, or null
// example: cypher-shell -f queries/unsupported_codes.cypher -P 'coder => null'
MATCH (e:Encounter)-[:HAS_ASSIGNMENT]->(a:CodingAssignment)-[:HAS_CODE]->(ac:AssignedCode)
WHERE a.status IN ['final', 'amended']
  AND NOT EXISTS { (:CodingAssignment)-[:SUPERSEDES]->(a) }
  AND NOT EXISTS { (ac)-[:SUPPORTED_BY]->(:Evidence) }
MATCH (a)-[:ASSIGNED_BY]->(coder:Coder)
WHERE $coder IS NULL OR coder.id = $coder
RETURN e.id AS encounter, a.id AS assignment, coder.id AS coder, ac.code AS code, ac.system AS system,
       ac.role AS role, a.drg AS drg
ORDER BY encounter, role, code;
