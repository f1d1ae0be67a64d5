// name: code_history
// description: Every visible release a code belongs to, with its title and billable flag in each, and the
// description: load run (source file and sha256) that put it there.
// param: system string = "icd10cm" -- code system id (icd10cm, icd10pcs, hcpcs, cpt, snomed)
// param: code string = "E11.9" -- the code as stored (ICD-10-CM dotted)
// example: cypher-shell -f queries/code_history.cypher -P 'system => "icd10cm"' -P 'code => "E11.9"'
MATCH (c:Code {key: $system + '|' + $code})-[m:IN_RELEASE]->(r:Release {status: 'visible'})
OPTIONAL MATCH (r)-[:PRODUCED_BY]->(run:LoadRun {status: 'completed'})
RETURN r.id AS release, r.effective_from AS effective_from, m.title AS title, m.billable AS billable,
       run.id AS load_run, run.source_files AS source_files
ORDER BY r.effective_from;
