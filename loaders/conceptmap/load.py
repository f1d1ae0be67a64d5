"""Load FHIR ConceptMap procedure maps as graph data (release ``procedure_maps@<version>``)::

    (:SnomedConcept)-[:HAS_PROCEDURE_MAP]->(:ProcedureMap {key, source_code, target_system, target_code,
        equivalence, depends_on (JSON), condition_values, modifiers, map_id})-[:PROCEDURE_MAPS_TO]->(:CPTCode|…)
    (:ProcedureMap)-[:IN_RELEASE]->(:Release)

A source or target code no code release has loaded yet gets its node here (as the NCCI loader does), so a map
can be loaded before the code systems it joins.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from loaders.conceptmap.records import ProcedureMapRecord, read_concept_maps
from loaders.errors import LoadError, ParseError
from loaders.machinery.pipeline import LoadContext
from loaders.registry import register
from ontology.code_systems import system
from ontology.vocabulary import L, R

SYSTEM = "procedure_maps"

def maps_statement(source_label: str, target_label: str) -> str:
    """The write of one (source system, target system) pair; labels are the ontology's names, never input."""
    return f"""
MATCH (rel:{L.Release} {{id: $release}})
UNWIND $rows AS row
MERGE (s:{L.Code} {{key: row.source_key}})
  ON CREATE SET s.code = row.source_code, s.system = row.source_system, s.load_run = $run, s:`{source_label}`
MERGE (t:{L.Code} {{key: row.target_key}})
  ON CREATE SET t.code = row.target_code, t.system = row.target_system, t.load_run = $run, t:`{target_label}`
MERGE (m:{L.ProcedureMap} {{key: row.key}})
  ON CREATE SET m += row.props, m.load_run = $run
MERGE (m)-[i:{R.IN_RELEASE}]->(rel)
  ON CREATE SET i.release = $release, i.load_run = $run
MERGE (s)-[h:{R.HAS_PROCEDURE_MAP} {{release: $release}}]->(m)
  ON CREATE SET h.load_run = $run
MERGE (m)-[p:{R.PROCEDURE_MAPS_TO} {{release: $release}}]->(t)
  ON CREATE SET p.load_run = $run
"""


def map_rows(release: str, records: list[ProcedureMapRecord], source_file: str) -> list[dict[str, Any]]:
    rows, seen = [], set()
    for r in records:
        conditions = sorted(f"{c.property}={c.value}" for c in r.depends_on)
        key = "|".join([release, r.map_id, r.source_code, r.target_system, r.target_code, *conditions])
        if key in seen:
            raise ParseError(source_file, None, r.where, "one target per code and set of conditions", key)
        seen.add(key)
        src, tgt = system(r.source_system), system(r.target_system)
        rows.append({
            "key": key, "source_key": src.key(r.source_code), "source_code": r.source_code,
            "source_system": src.id, "source_label": src.label, "target_key": tgt.key(r.target_code),
            "target_code": r.target_code, "target_system": tgt.id, "target_label": tgt.label,
            "props": {"map_id": r.map_id, "map_version": r.map_version, "source_code": r.source_code,
                      "source_display": r.source_display, "target_system": tgt.id, "target_code": r.target_code,
                      "equivalence": r.equivalence, "comment": r.comment, "modifiers": list(r.modifiers),
                      "depends_on": json.dumps([c.__dict__ for c in r.depends_on]),
                      "condition_values": sorted(c.value for c in r.depends_on),
                      "release": release, "source_file": source_file},
        })
    return rows


class ConceptMapLoader:
    name = SYSTEM
    system_name = "FHIR ConceptMap procedure maps (SNOMED CT → CPT, HCPCS, ICD-10-PCS)"

    def write(self, ctx: LoadContext) -> None:
        paths: list[Path] = [p for src in ctx.sources for p in (sorted(src.glob("*.json")) if src.is_dir() else [src])]
        if not paths:
            raise LoadError("procedure_maps: no ConceptMap JSON files given")
        rows = [row for p in paths for row in map_rows(ctx.release.id, read_concept_maps(p), p.name)]  # all first
        by_pair: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in rows:
            by_pair.setdefault((row["source_label"], row["target_label"]), []).append(row)
        ctx.counts["procedure_maps"] = sum(
            ctx.writer.write(f"procedure maps to {target}", maps_statement(source, target), pair_rows,
                             describe_row=lambda r: f"map {r['key']!r}")
            for (source, target), pair_rows in sorted(by_pair.items()))


register(SYSTEM)(ConceptMapLoader)
