// name: drg_shifts
// description: Encounters whose coding revisions changed expected reimbursement by more than $min_delta: the
// description: DRG, weight and payment before and after, the codes added and removed between the two grouped
// description: versions, and for each such code its supporting evidence and the document section it is written in.
// description: Largest change first, one page at a time: the shift is stored on the revision when it is recorded
// description: (payment_delta_abs, indexed), so a page is an index seek from the cursor, not a scan. For the next
// description: page pass the last row's shift and after_assignment as after_shift and after_assignment.
// param: min_delta float = 5000 -- smallest absolute change in expected payment, in dollars
// param: payer string = null -- payer id, or null for all payers
// param: coder string = null -- id of the coder of the newer version, or null for all
// param: from_date string = null -- ISO date: only revisions made on or after it (null: no limit)
// param: to_date string = null -- ISO date: only revisions made before it (null: no limit)
// param: page_size int = 100 -- rows per page (the HTTP API caps it at 1000)
// param: after_shift float = null -- keyset cursor: the shift of the previous page's last row (null: first page)
// param: after_assignment string = null -- keyset cursor: the after_assignment of the previous page's last row
// example: cypher-shell -f queries/drg_shifts.cypher -P 'min_delta => 5000' -P 'payer => null' -P 'coder => null' -P 'from_date => null' -P 'to_date => null' -P 'page_size => 100' -P 'after_shift => null' -P 'after_assignment => null'
MATCH (after:CodingAssignment)
WHERE after.payment_delta_abs > $min_delta
  // the cursor bounds the index range; ties on the shift are ordered by assignment id
  AND after.payment_delta_abs <= coalesce($after_shift, 1.0e308)
  AND ($after_shift IS NULL OR after.payment_delta_abs < $after_shift OR after.id > $after_assignment)
  AND ($from_date IS NULL OR after.created_at >= datetime($from_date))
  AND ($to_date IS NULL OR after.created_at < datetime($to_date))
  AND ($payer IS NULL OR after.payer = $payer)
  AND ($coder IS NULL OR EXISTS { (after)-[:ASSIGNED_BY]->(:Coder {id: $coder}) })
WITH after ORDER BY after.payment_delta_abs DESC, after.id
LIMIT $page_size
MATCH (e:Encounter)-[:HAS_ASSIGNMENT]->(after)-[:ASSIGNED_BY]->(coder:Coder)
MATCH (before:CodingAssignment {id: after.before_assignment})
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
       after.before_assignment AS before_assignment, after.before_drg AS before_drg,
       after.before_drg_weight AS before_weight, after.before_payment AS before_payment,
       after.id AS after_assignment, after.drg AS after_drg, after.drg_weight AS after_weight,
       after.expected_payment AS after_payment, round(after.payment_delta, 2) AS payment_delta,
       after.payment_delta_abs AS shift, toString(after.created_at) AS revised_at, added, removed
ORDER BY shift DESC, after_assignment;
