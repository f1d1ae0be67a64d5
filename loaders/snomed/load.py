"""Load a SNOMED CT RF2 release: concepts, the active IS-A hierarchy and the SNOMED CT → ICD-10-CM map.

Concepts are code nodes (system ``snomed``): the US English preferred term is the title, the FSN and
the active flag live on the release membership; an inactive concept stays a member with ``active: false,
billable: false``. A child/parent pair becomes an ``IS_A`` edge when at least one of its relationship
ids is active. Each extended-map row becomes
``(:SnomedConcept)-[:HAS_MAP_RULE]->(:MapRule)-[:MAPS_TO]->(:ICD10CMCode)`` (no ``MAPS_TO`` when the row
has no target); ICD-10-CM code nodes are merged by key, since ICD-10-CM may not be loaded yet.

A map row is versioned like every RF2 component (member id + effectiveTime): its ``MapRule`` node has id
``<member id>@<YYYYMMDD>``, so a row changed in a later release is a new node and the earlier release
keeps reading the rule it was published with. A Snapshot is read by default; a directory holding only a
Full release is read as Full (the parser keeps the latest row per id). Every file is parsed and
cross-checked before the first write.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from loaders.errors import LoadError, WrongFileError
from loaders.machinery.code_release import code_row, refresh_code_titles, write_codes, write_hierarchy
from loaders.machinery.pipeline import LoadContext
from loaders.registry import register
from loaders.snomed.release import ReleaseType, Rf2Kind, Rf2Release, find_release_files, parse_rf2_name
from loaders.snomed.rf2 import (
    ConceptTerms,
    SnomedConcept,
    SnomedIsA,
    SnomedMapRow,
    concept_terms,
    read_concepts,
    read_descriptions,
    read_extended_map,
    read_is_a,
    read_language_members,
)
from ontology.code_systems import system
from ontology.vocabulary import L, R, labels_for

SNOMED = system("snomed")
ICD10CM = system("icd10cm")

# Concepts are matched as Code: the node key (and its unique index) belongs to the Code label.
MAP_RULES = f"""
UNWIND $rows AS row
MATCH (c:{L.Code} {{key: row.concept}})
MERGE (mr:{L.MapRule} {{id: row.id}})
  ON CREATE SET mr += row.props, mr.load_run = $run
MERGE (c)-[h:{R.HAS_MAP_RULE} {{release: $release}}]->(mr)
  ON CREATE SET h.load_run = $run
"""

# The target may not be loaded (ICD-10-CM comes from another load): merge its node by key.
_ICD10CM_LABELS = "".join(f" SET t:`{label}`" for label in labels_for(L.ICD10CMCode) if label != L.Code)
MAP_TARGETS = f"""
UNWIND $rows AS row
MATCH (mr:{L.MapRule} {{id: row.id}})
MERGE (t:{L.Code} {{key: row.key}})
  ON CREATE SET t.code = row.code, t.system = $target_system, t.load_run = $run
WITH mr, t{_ICD10CM_LABELS}
MERGE (mr)-[e:{R.MAPS_TO} {{release: $release}}]->(t)
  ON CREATE SET e.load_run = $run
"""

RELEASE_WINDOW = f"""
MATCH (r:{L.Release} {{id: $release}})
SET r.effective_from = $effective_from, r.coverage = 'full', r.rf2_release_type = $release_type,
    r.namespace = $namespace
"""


def map_rule_id(row: SnomedMapRow) -> str:
    """The id of one version of a map row: its refset member id and its effectiveTime."""
    return f"{row.id}@{row.effective_time:%Y%m%d}"


def release_type_in(root: Path) -> ReleaseType:
    """Snapshot when ``root`` holds a Snapshot concept file, else Full when it holds a Full one."""
    found = {name.release_type for path in root.rglob("*") if (name := parse_rf2_name(path)) is not None
             and name.kind is Rf2Kind.CONCEPT}
    if ReleaseType.SNAPSHOT not in found and ReleaseType.FULL not in found and ReleaseType.DELTA in found:
        raise WrongFileError(root, None, "file name", "a Snapshot or Full release (a Delta is not loaded alone)",
                             "only Delta files")
    return ReleaseType.FULL if ReleaseType.SNAPSHOT not in found and ReleaseType.FULL in found else (
        ReleaseType.SNAPSHOT)


def active_is_a_pairs(links: list[SnomedIsA]) -> tuple[list[tuple[str, str]], int]:
    """Child/parent pairs with at least one active relationship id, and how many pairs are only retired."""
    active: dict[tuple[str, str], bool] = {}
    for link in links:
        pair = (link.child_id, link.parent_id)
        active[pair] = active.get(pair, False) or link.active
    kept = sorted(pair for pair, is_active in active.items() if is_active)
    return kept, len(active) - len(kept)


class SnomedLoader:
    name = "snomed"
    system_name = "SNOMED CT"

    def __init__(self, release_type: ReleaseType | str | None = None) -> None:
        self.release_type = ReleaseType(release_type) if release_type else None

    def write(self, ctx: LoadContext) -> None:
        files = self._release_files(ctx)
        concepts = list(read_concepts(files.concepts))
        assert files.language is not None and files.relationships is not None  # checked by _release_files
        terms = concept_terms(read_descriptions(files.descriptions), read_language_members(files.language))
        pairs, retired_pairs = active_is_a_pairs(list(read_is_a(files.relationships)))
        map_rows = list(read_extended_map(files.extended_map)) if files.extended_map else []
        self._check_references(files, {c.id for c in concepts}, pairs, map_rows)

        counts = ctx.counts
        counts["rf2_release_type"] = files.release_type.value
        ctx.writer.run("release window", RELEASE_WINDOW, {
            "effective_from": files.release_date, "release_type": files.release_type.value,
            "namespace": files.namespace,
        })
        counts["concepts"] = write_codes(ctx, SNOMED, (_concept_row(c, terms) for c in concepts))
        counts["active_concepts"] = sum(c.active for c in concepts)
        counts["inactive_concepts"] = counts["concepts"] - counts["active_concepts"]
        counts["concepts_without_preferred_term"] = sum(
            1 for c in concepts if c.id not in terms or not terms[c.id].preferred_term)
        counts["is_a"] = write_hierarchy(ctx, SNOMED, pairs)
        counts["is_a_retired_pairs"] = retired_pairs
        counts["map_rows"] = ctx.writer.write("snomed map rules", MAP_RULES, _map_rule_rows(map_rows),
                                              describe_row=lambda r: f"map row {r['id']!r}")
        counts["map_rows_active"] = sum(r.active for r in map_rows)
        counts["map_targets"] = ctx.writer.write(
            "snomed map targets", MAP_TARGETS, _map_target_rows(map_rows), params={"target_system": ICD10CM.id},
            describe_row=lambda r: f"map row {r['id']!r} target {r['code']!r}")
        counts["map_concepts"] = len({r.concept_id for r in map_rows})

    def after_promote(self, ctx: LoadContext) -> None:
        refresh_code_titles(ctx, SNOMED)

    def _release_files(self, ctx: LoadContext) -> Rf2Release:
        if len(ctx.sources) != 1 or not ctx.sources[0].is_dir():
            raise LoadError(f"SNOMED CT takes one directory holding an RF2 release (the package, or its Snapshot "
                            f"or Full folder); got {[str(p) for p in ctx.sources]}")
        root = ctx.sources[0]
        files = find_release_files(root, self.release_type or release_type_in(root))
        kind = files.release_type.value
        for path, name in ((files.relationships, f"{Rf2Kind.RELATIONSHIP}_{kind}"),
                           (files.language, f"{Rf2Kind.LANGUAGE}{kind}-en")):
            if path is None:  # without them there is no hierarchy, or no preferred terms
                raise WrongFileError(root, None, "file name", f"a {name}_<namespace>_<YYYYMMDD>.txt file", "none")
        if ctx.release.version != f"{files.release_date:%Y%m%d}":
            raise LoadError(f"release {ctx.release.version!r} was asked for, but {files.concepts.name} is the "
                            f"{files.release_date:%Y%m%d} release: load it as --release {files.release_date:%Y%m%d}")
        return files

    @staticmethod
    def _check_references(files: Rf2Release, concept_ids: set[str], pairs: list[tuple[str, str]],
                          map_rows: list[SnomedMapRow]) -> None:
        """Every IS-A end and every mapped concept is a concept of the release (checked before writing)."""
        for child, parent in pairs:
            for end in (child, parent):
                if end not in concept_ids:
                    raise LoadError(f"{files.relationships}: IS-A {child} → {parent} names concept {end}, "
                                    f"which is not in {files.concepts.name}")
        for row in map_rows:
            if row.concept_id not in concept_ids:
                raise LoadError(f"{files.extended_map}: map row {row.id} maps concept {row.concept_id}, "
                                f"which is not in {files.concepts.name}")


def _concept_row(concept: SnomedConcept, terms: dict[str, ConceptTerms]) -> dict[str, Any]:
    named = terms.get(concept.id)
    fsn = named.fsn if named else None
    title = (named.preferred_term if named else None) or fsn or concept.id
    return code_row(SNOMED, concept.id, title, billable=concept.active, search_terms=fsn or "", kind="concept",
                    fsn=fsn, active=concept.active, effective_time=concept.effective_time.isoformat())


def _map_rule_rows(rows: list[SnomedMapRow]) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield {
            "id": map_rule_id(row), "concept": SNOMED.key(row.concept_id),
            "props": {
                "member_id": row.id, "group": row.group, "priority": row.priority, "rule": row.rule,
                "advice": row.advice, "correlation": row.correlation_id, "category": row.category_id,
                "active": row.active, "effective_time": row.effective_time.isoformat(),
            },
        }


def _map_target_rows(rows: list[SnomedMapRow]) -> Iterator[dict[str, Any]]:
    for row in rows:
        if row.target:
            yield {"id": map_rule_id(row), "key": ICD10CM.key(row.target), "code": ICD10CM.normalise(row.target)}


register("snomed")(SnomedLoader)
