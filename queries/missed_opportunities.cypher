// name: missed_opportunities
// description: Documented evidence whose concept maps (SNOMED CT → ICD-10-CM) to a CC or MCC that the current
// description: final assignment did not code — the documentation that could change severity.
// param: grouper_version string = "43" -- MS-DRG grouper version of the CC/MCC designations
// example: cypher-shell -f queries/missed_opportunities.cypher -P 'grouper_version => "43"'
MATCH (e:Encounter)-[:HAS_ASSIGNMENT]->(a:CodingAssignment)
WHERE a.status IN ['final', 'amended'] AND NOT EXISTS { (:CodingAssignment)-[:SUPERSEDES]->(a) }
MATCH (e)-[:HAS_EVIDENCE]->(x:Evidence)-[:ABOUT_CONCEPT]->(concept:Code)
MATCH (concept)-[:HAS_MAP_RULE]->(:MapRule)-[:MAPS_TO]->(icd:ICD10CMCode)
      -[:HAS_SEVERITY]->(sev:SeverityDesignation {version: $grouper_version})
WHERE NOT EXISTS { (a)-[:HAS_CODE]->(:AssignedCode)-[:ASSIGNS]->(icd) }
OPTIONAL MATCH (x)-[:DOCUMENTED_IN]->(s:DocumentSection)
RETURN e.id AS encounter, a.id AS assignment, a.drg AS current_drg, x.id AS evidence, x.text AS text,
       s.title AS section, concept.code AS concept, icd.code AS uncoded_code, sev.level AS severity
ORDER BY encounter, severity DESC, uncoded_code;
