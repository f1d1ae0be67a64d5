// name: coder_patterns
// description: Per coder (and coder kind): assignments, revisions, how often a revision moved the DRG payment up
// description: or down, and the coder's average payment delta against peers on the same encounter types (class +
// description: principal-diagnosis chapter) — an upcoding/undercoding signal with counts, not a verdict.
// param: min_revisions int = 1 -- leave out coders with fewer revisions
// example: cypher-shell -f queries/coder_patterns.cypher -P 'min_revisions => 1'
MATCH (e:Encounter)-[:HAS_ASSIGNMENT]->(after:CodingAssignment)-[:SUPERSEDES]->(before:CodingAssignment)
WHERE after.expected_payment IS NOT NULL AND before.expected_payment IS NOT NULL
MATCH (after)-[:ASSIGNED_BY]->(coder:Coder)
OPTIONAL MATCH (after)-[:HAS_CODE]->(pdx:AssignedCode {role: 'principal'})
WITH coder, e.class + ':' + coalesce(left(pdx.code, 1), '?') AS encounter_type,
     after.expected_payment - before.expected_payment AS delta
WITH encounter_type, collect({coder: coder, delta: delta}) AS rows, avg(delta) AS type_avg
UNWIND rows AS r
WITH r.coder AS coder, encounter_type, r.delta AS delta, type_avg
WITH coder, count(*) AS revisions,
     sum(CASE WHEN delta > 0 THEN 1 ELSE 0 END) AS up, sum(CASE WHEN delta < 0 THEN 1 ELSE 0 END) AS down,
     avg(delta) AS avg_delta, avg(delta - type_avg) AS avg_delta_vs_peers, collect(DISTINCT encounter_type) AS types
WHERE revisions >= $min_revisions
OPTIONAL MATCH (coder)<-[:ASSIGNED_BY]-(any:CodingAssignment)
WITH coder, revisions, up, down, avg_delta, avg_delta_vs_peers, types, count(any) AS assignments
RETURN coder.id AS coder, coder.kind AS coder_kind, assignments, revisions,
       round(toFloat(revisions) / assignments, 3) AS revision_rate, up, down,
       round(avg_delta, 2) AS avg_payment_delta, round(avg_delta_vs_peers, 2) AS avg_delta_vs_peers, types
ORDER BY avg_delta_vs_peers DESC;
