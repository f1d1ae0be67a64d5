// name: encounter_trace
// description: The complete clinical-coding chain of one encounter: documents and sections, evidence, the
// description: concepts it names and the ICD-10-CM codes they map to, every coding version with its coder, assigned
// description: codes and their support, the DRG each version grouped to, the findings recorded at the time, and
// description: each version's stored evaluation with the rule nodes it cites.
// param: encounter string = "enc-0000001" -- the encounter id
// example: cypher-shell -f queries/encounter_trace.cypher -P 'encounter => "enc-0000001"'
MATCH (e:Encounter {id: $encounter})
OPTIONAL MATCH (p:Patient)-[:HAS_ENCOUNTER]->(e)
OPTIONAL MATCH (e)-[:INSURED_BY]->(payer:Payer)
CALL (e) {
  OPTIONAL MATCH (e)-[:HAS_EVIDENCE]->(x:Evidence)
  OPTIONAL MATCH (x)-[:DOCUMENTED_IN]->(s)
  OPTIONAL MATCH (d:ClinicalDocument)-[:HAS_SECTION]->(s)
  OPTIONAL MATCH (x)-[:ABOUT_CONCEPT]->(concept:Code)
  OPTIONAL MATCH (concept)-[:HAS_MAP_RULE]->(mr:MapRule)-[:MAPS_TO]->(mapped:Code)
  WITH x, s, d, concept, collect(DISTINCT {code: mapped.code, group: mr.group, rule: mr.rule}) AS maps
  RETURN collect({evidence: x.id, kind: x.kind, text: x.text, document: d.id, note_type: d.note_type,
                  section: s.title, concept: concept.system + ':' + concept.code, concept_title: concept.title,
                  derived_codes: [m IN maps WHERE m.code IS NOT NULL]}) AS evidence
}
CALL (e) {
  OPTIONAL MATCH (e)-[:HAS_ASSIGNMENT]->(a:CodingAssignment)-[:ASSIGNED_BY]->(coder:Coder)
  OPTIONAL MATCH (a)-[:SUPERSEDES]->(prev:CodingAssignment)
  OPTIONAL MATCH (a)-[:GROUPED_TO]->(drg:MSDRG)
  CALL (a) {
    OPTIONAL MATCH (a)-[:HAS_CODE]->(ac:AssignedCode)-[:ASSIGNS]->(c:Code)
    OPTIONAL MATCH (ac)-[:SUPPORTED_BY]->(x:Evidence)
    WITH ac, c, collect(x.id) AS support ORDER BY ac.role, ac.sequence
    RETURN collect({code: c.code, system: c.system, title: c.title, role: ac.role, sequence: ac.sequence,
                    poa: ac.poa, supported_by: support}) AS codes
  }
  WITH a, coder, prev, drg, codes ORDER BY a.version
  RETURN collect({assignment: a.id, version: a.version, status: a.status, created_at: toString(a.created_at),
                  coder: coder.id, coder_kind: coder.kind, supersedes: prev.id, drg: a.drg,
                  drg_title: drg.title, weight: a.drg_weight, expected_payment: a.expected_payment,
                  findings: a.findings, codes: codes,
                  evaluations: [(a)<-[:EVALUATES]-(ev:Evaluation) |
                                {id: ev.id, overall: ev.overall, drg: ev.drg, verdicts: ev.verdicts,
                                 created_at: toString(ev.created_at),
                                 cites: [(ev)-[c:CITES]->(n) | {node: coalesce(n.key, n.id), family: c.family,
                                                                check: c.check, rule: c.rule}]}]}) AS versions
}
RETURN e.id AS encounter, e.class AS class, e.period_start AS admitted, e.period_end AS discharged,
       e.discharge_disposition AS discharge_disposition, p.id AS patient, p.sex AS sex, payer.id AS payer,
       evidence, versions;
