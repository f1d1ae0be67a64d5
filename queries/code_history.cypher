// name: code_history
// description: Every visible release a code belongs to, with its title and billable flag in each, and the
// description: load run (source file and sha256) that put it there.
// param: system string = "icd10cm" -- code system id (icd10cm, icd10pcs, hcpcs, cpt, snomed)
// param: code string = "E11.9" -- the code as stored (ICD-10-CM dotted)
// example: cypher-shell -f queries/code_history.cypher -P 'system => "icd10cm"' -P 'code => "E11.9"'
MATCH (c:Code {key: $system + '|' + $code})-[m:IN_RELEASE]->(start:Release)
// A membership names only the release that started its range (ontology/release_ranges.py): each visible release of
// that system is tested for the range being valid in it.
MATCH (r:Release {system: start.system, status: 'visible'})
WITH m, r, coalesce(r.code_scope, [r.id]) AS scope
WHERE m.release IN scope AND (m.until IS NULL OR NOT m.until IN scope)
OPTIONAL MATCH (r)-[:PRODUCED_BY]->(run:LoadRun {status: 'completed'})
RETURN r.id AS release, r.effective_from AS effective_from, m.title AS title, m.billable AS billable,
       run.id AS load_run, run.source_files AS source_files
ORDER BY r.effective_from;
