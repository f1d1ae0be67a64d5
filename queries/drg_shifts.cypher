// name: drg_shifts
// description: Encounters whose coding revisions changed expected reimbursement by more than $min_delta: the
// description: DRG, weight and payment before and after, the codes added and removed between the two grouped
// description: versions, and for each such code its supporting evidence and the document section it is written in.
// param: min_delta float = 5000 -- smallest absolute change in expected payment, in dollars
// param: payer string = null -- payer id, or null for all payers
// param: coder string = null -- id of the coder of the newer version, or null for all
// param: from_date string = null -- ISO date: only revisions made on or after it (null: no limit)
// param: to_date string = null -- ISO date: only revisions made before it (null: no limit)
// example: cypher-shell -f queries/drg_shifts.cypher -P 'min_delta => 5000' -P 'payer => null' -P 'coder => null' -P 'from_date => null' -P 'to_date => null'
MATCH (e:Encounter)-[:HAS_ASSIGNMENT]->(after:CodingAssignment)
WHERE after.expected_payment IS NOT NULL
  AND ($from_date IS NULL OR after.created_at >= datetime($from_date))
  AND ($to_date IS NULL OR after.created_at < datetime($to_date))
  AND ($payer IS NULL OR after.payer = $payer)
  AND ($coder IS NULL OR EXISTS { (after)-[:ASSIGNED_BY]->(:Coder {id: $coder}) })
// the nearest earlier version that was grouped
MATCH p = (after)-[:SUPERSEDES*1..20]->(before:CodingAssignment)
WHERE before.expected_payment IS NOT NULL
  AND all(mid IN nodes(p)[1..-1] WHERE mid.expected_payment IS NULL)
WITH e, after, before, after.expected_payment - before.expected_payment AS delta
WHERE abs(delta) > $min_delta
MATCH (after)-[:ASSIGNED_BY]->(coder:Coder)
CALL (after, before) {
  MATCH (after)-[:HAS_CODE]->(ac:AssignedCode)
  WHERE NOT EXISTS { (before)-[:HAS_CODE]->(:AssignedCode {code: ac.code, system: ac.system}) }
  OPTIONAL MATCH (ac)-[:SUPPORTED_BY]->(x:Evidence)
  OPTIONAL MATCH (x)-[:DOCUMENTED_IN]->(s:DocumentSection)
  WITH ac, collect(DISTINCT {evidence: x.id, text: x.text, section: s.title}) AS support
  RETURN collect({code: ac.code, role: ac.role, poa: ac.poa,
                  evidence: [s IN support WHERE s.evidence IS NOT NULL]}) AS added
}
CALL (after, before) {
  MATCH (before)-[:HAS_CODE]->(ac:AssignedCode)
  WHERE NOT EXISTS { (after)-[:HAS_CODE]->(:AssignedCode {code: ac.code, system: ac.system}) }
  OPTIONAL MATCH (ac)-[:SUPPORTED_BY]->(x:Evidence)
  OPTIONAL MATCH (x)-[:DOCUMENTED_IN]->(s:DocumentSection)
  WITH ac, collect(DISTINCT {evidence: x.id, text: x.text, section: s.title}) AS support
  RETURN collect({code: ac.code, role: ac.role, poa: ac.poa,
                  evidence: [s IN support WHERE s.evidence IS NOT NULL]}) AS removed
}
RETURN e.id AS encounter, after.payer AS payer, coder.id AS coder, coder.kind AS coder_kind,
       before.id AS before_assignment, before.drg AS before_drg, before.drg_weight AS before_weight,
       before.expected_payment AS before_payment,
       after.id AS after_assignment, after.drg AS after_drg, after.drg_weight AS after_weight,
       after.expected_payment AS after_payment, round(delta, 2) AS payment_delta,
       toString(after.created_at) AS revised_at, added, removed
ORDER BY abs(delta) DESC, encounter;
