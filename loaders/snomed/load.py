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
Full release is read as Full (the parser keeps the latest row per id).

Built for a full-size release (360k concepts, 1.2M descriptions, 1.5M relationships): each file is streamed
once and written while the next rows are parsed (``prefetch``); rows travel as lists; what a release says
(memberships, map links) is CREATEd when the release is new. References (IS-A ends, mapped concepts) are
checked as rows stream by; a failure discards the run, so the graph is left as it was either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from neo4j import ManagedTransaction

from loaders.errors import LoadError, ParseError, WrongFileError
from loaders.machinery.pipeline import LoadContext
from loaders.machinery.writer import batched
from loaders.registry import register
from loaders.snomed.prefetch import prefetched
from loaders.snomed.release import ReleaseType, Rf2Kind, Rf2Release, find_release_files, parse_rf2_name
from loaders.snomed.rf2 import (
    SnomedMapRow,
    read_concepts,
    read_descriptions,
    read_extended_map,
    read_is_a,
    read_language_members,
)
from loaders.snomed.scratch import CHUNK, ReleaseScratch
from ontology.code_systems import system
from ontology.release_ranges import code_scope, valid_in
from ontology.vocabulary import L, R, labels_for

SNOMED = system("snomed")
ICD10CM = system("icd10cm")

_CONCEPT_LABELS = "".join(f", c:`{label}`" for label in labels_for(L.SnomedConcept) if label != L.Code)
_ICD10CM_LABELS = "".join(f", t:`{label}`" for label in labels_for(L.ICD10CMCode) if label != L.Code)

# Rows travel as lists (no per-row key strings to pack). A code node is shared with older releases, so it is
# merged by key; everything a release says is new when the release is (``fresh``: staged by this run), so it is
# CREATEd, and MERGEd only when a visible release is loaded again from the same files.
# Concept batches create disjoint nodes (the Release they share takes relationship inserts concurrently): two
# transactions in flight. IS-A and map batches link shared nodes (parents, targets): concurrent batches
# deadlock on them (seen: retried, correct, slower), so they stay on one session.
CONCEPT_SESSIONS = 2
CONCEPT_ROW = ("key", "code", "title", "search_terms", "active", "fsn", "effective_time")


def concepts_statement(fresh: bool) -> str:
    # No search_terms on the membership: for a concept they are its FSN, already there as ``fsn`` (long strings
    # are most of what a membership costs to write).
    membership = ("{title: row[2], billable: row[4], kind: 'concept', fsn: row[5], active: row[4], "
                  "effective_time: row[6], release: $release, load_run: $run}")
    link = (f"CREATE (c)-[:{R.IN_RELEASE} {membership}]->(rel)" if fresh else
            f"MERGE (c)-[m:{R.IN_RELEASE}]->(rel) ON CREATE SET m += {membership}")
    return f"""
MATCH (rel:{L.Release} {{id: $release}})
UNWIND $rows AS row
MERGE (c:{L.Code} {{key: row[0]}})
  ON CREATE SET c.code = row[1], c.system = $system, c.load_run = $run, c.title = row[2],
                c.search_terms = row[3]{_CONCEPT_LABELS}
{link}
"""


# MERGE even in a fresh release: one child/parent pair can have several active relationship ids.
IS_A_EDGES = f"""
UNWIND $rows AS row
MATCH (c:{L.Code} {{key: row[0]}})
MATCH (p:{L.Code} {{key: row[1]}})
MERGE (c)-[e:{R.IS_A} {{release: $release}}]->(p)
  ON CREATE SET e.load_run = $run
"""

RETIRED_PAIRS_KEPT = f"""
UNWIND $rows AS row
MATCH (:{L.Code} {{key: row[0]}})-[:{R.IS_A} {{release: $release}}]->(:{L.Code} {{key: row[1]}})
RETURN count(*) AS kept
"""

MAP_ROW = ("concept", "id", "member_id", "group", "priority", "rule", "advice", "correlation", "category", "active",
           "effective_time", "target_key", "target_code")


# The targets first, merged once per distinct code: merging them inside the map-row statement would make
# Cypher materialise every batch (an Eager between the concept lookup and the target merge).
MAP_TARGET_CODES = f"""
UNWIND $rows AS row
MERGE (t:{L.Code} {{key: row[0]}})
  ON CREATE SET t.code = row[1], t.system = $target_system, t.load_run = $run{_ICD10CM_LABELS}
"""


def map_rows_statement(fresh: bool) -> str:
    """Rule node, its link from the concept and its link to the target (merged beforehand) in one statement."""

    def link(pattern: str, var: str) -> str:  # pattern: "(a)-[:TYPE]->(b)"; release and run on the relationship
        if fresh:
            return "CREATE " + pattern.replace("]", " {release: $release, load_run: $run}]")
        keyed = pattern.replace("[:", f"[{var}:").replace("]", " {release: $release}]")
        return f"MERGE {keyed} ON CREATE SET {var}.load_run = $run"

    return f"""
UNWIND $rows AS row
MATCH (c:{L.Code} {{key: row[0]}})
MERGE (mr:{L.MapRule} {{id: row[1]}})
  ON CREATE SET mr.member_id = row[2], mr.group = row[3], mr.priority = row[4], mr.rule = row[5],
                mr.advice = row[6], mr.correlation = row[7], mr.category = row[8], mr.active = row[9],
                mr.effective_time = row[10], mr.load_run = $run
{link(f"(c)-[:{R.HAS_MAP_RULE}]->(mr)", "h")}
WITH mr, row WHERE row[11] IS NOT NULL
MATCH (t:{L.Code} {{key: row[11]}})
{link(f"(mr)-[:{R.MAPS_TO}]->(t)", "e")}
"""


RELEASE_WINDOW = f"""
MATCH (r:{L.Release} {{id: $release}})
SET r.effective_from = $effective_from, r.coverage = 'full', r.rf2_release_type = $release_type,
    r.namespace = $namespace
RETURN r.load_run = $run AS fresh
"""

# After promotion: node titles from the newest visible release, for the nodes that older releases made (the
# ones this run created already carry this release's title). The shared refresh visits every code. Memberships are
# matched to the visible releases they are valid in (ontology/release_ranges.py), as every code reader does.
REFRESH_OLDER_TITLES = f"""
MATCH (c:{L.Code} {{system: $system}}) WHERE c.load_run <> $run
CALL (c) {{
  MATCH (c)-[m:{R.IN_RELEASE}]->(:{L.Release})
  MATCH (r:{L.Release} {{system: $system, status: 'visible'}}) WHERE {valid_in('m', code_scope('r'))}
  WITH m ORDER BY r.effective_from DESC, r.version DESC LIMIT 1
  SET c.title = m.title, c.search_terms = coalesce(m.search_terms, m.fsn, '')
}} IN TRANSACTIONS OF 10000 ROWS
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


class SnomedLoader:
    name = "snomed"
    system_name = "SNOMED CT"

    def __init__(self, release_type: ReleaseType | str | None = None) -> None:
        self.release_type = ReleaseType(release_type) if release_type else None

    def write(self, ctx: LoadContext) -> None:
        """Stream each file once: terms (parse only), then concepts, IS-A and map rows, each written while the
        next rows are parsed. What spans files (concept ids, terms, retired pairs) waits on disk in the scratch:
        the loader's memory does not grow with the release."""
        files = self._release_files(ctx)
        assert files.language is not None and files.relationships is not None  # checked by _release_files
        counts = ctx.counts
        counts["rf2_release_type"] = files.release_type.value
        [window] = _run_returning(ctx, RELEASE_WINDOW, {
            "effective_from": files.release_date, "release_type": files.release_type.value,
            "namespace": files.namespace,
        })
        fresh = bool(window["fresh"])
        counts["release_new"] = fresh

        with ReleaseScratch() as scratch:
            # Descriptions and the language refset are read (not written) first: the concepts carry the terms.
            scratch.collect_terms(read_descriptions(files.descriptions), read_language_members(files.language))
            concepts = _ConceptStream(files, scratch)
            counts["concepts"] = ctx.writer.write(
                f"{SNOMED.id} concepts", concepts_statement(fresh), prefetched(concepts.rows()),
                sessions=CONCEPT_SESSIONS, params={"system": SNOMED.id},
                describe_row=lambda r: f"{files.concepts.name}: concept {r[1]!r}")
            counts["active_concepts"] = concepts.active
            counts["inactive_concepts"] = counts["concepts"] - concepts.active
            counts["concepts_without_preferred_term"] = concepts.without_preferred_term

            links = _IsAStream(files, scratch)
            before = ctx.writer.stats.relationships_created
            ctx.writer.write(f"{SNOMED.id} IS-A", IS_A_EDGES, prefetched(links.rows()),
                             describe_row=lambda r: f"{files.relationships.name}: IS-A {r[0]} → {r[1]}")
            counts["is_a"] = ctx.writer.stats.relationships_created - before
            counts["is_a_retired_pairs"] = self._retired_pairs(ctx, scratch)

            if files.extended_map is None:
                counts.update(map_rows=0, map_rows_active=0, map_targets=0, map_concepts=0)
                return
            targets = sorted({row.target for row in read_extended_map(files.extended_map) if row.target})
            ctx.writer.write("snomed map targets", MAP_TARGET_CODES,
                             ([ICD10CM.key(code), ICD10CM.normalise(code)] for code in targets),
                             params={"target_system": ICD10CM.id},
                             describe_row=lambda r: f"{files.extended_map}: ICD-10-CM target {r[1]!r}")
            mapping = _MapStream(files.extended_map, scratch, files.concepts.name)
            counts["map_rows"] = ctx.writer.write(
                "snomed map rows", map_rows_statement(fresh), prefetched(mapping.rows()),
                describe_row=lambda r: f"{files.extended_map}: map row {r[2]!r} (concept {r[0]}, target {r[12]!r})")
            counts["map_rows_active"] = mapping.active
            counts["map_targets"] = mapping.targets
            counts["map_concepts"] = scratch.mapped_concepts()

    def after_promote(self, ctx: LoadContext) -> None:
        with ctx.writer.driver.session(database=ctx.writer.database) as session:
            session.run(REFRESH_OLDER_TITLES, system=SNOMED.id, run=ctx.run_id).consume()

    @staticmethod
    def _retired_pairs(ctx: LoadContext, scratch: ReleaseScratch) -> int:
        """Pairs named only by retired relationship rows: the inactive pairs that got no edge."""
        retired = 0
        for chunk in scratch.retired_pairs():
            rows = [[SNOMED.key(str(child)), SNOMED.key(str(parent))] for child, parent in chunk]
            records, _, _ = ctx.writer.driver.execute_query(
                RETIRED_PAIRS_KEPT, rows=rows, release=ctx.release.id, database_=ctx.writer.database)
            retired += len(rows) - records[0]["kept"]
        return retired

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


def _run_returning(ctx: LoadContext, cypher: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """One statement in a managed write transaction, returning its records (the shared writer's ``run`` returns
    counters only)."""
    def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
        return [r.data() for r in tx.run(cypher, {"run": ctx.run_id, "release": ctx.release.id, **params})]

    with ctx.writer.driver.session(database=ctx.writer.database) as session:
        return session.execute_write(work)


class _ConceptStream:
    """Concept rows (lists in ``CONCEPT_ROW`` order) with their counts; the ids are registered in the scratch."""

    def __init__(self, files: Rf2Release, scratch: ReleaseScratch) -> None:
        self.files, self.scratch = files, scratch
        self.active = self.without_preferred_term = 0

    def rows(self) -> Iterator[list[Any]]:
        for chunk in batched(read_concepts(self.files.concepts, self.scratch), CHUNK):
            terms = self.scratch.terms_of(int(concept.id) for concept in chunk)
            for concept in chunk:
                fsn, preferred = terms.get(int(concept.id), (None, None))
                self.active += concept.active
                self.without_preferred_term += not preferred
                yield [SNOMED.key(concept.id), concept.id, preferred or fsn or concept.id, fsn or "",
                       concept.active, fsn, concept.effective_time.isoformat()]


class _IsAStream:
    """IS-A rows ``[child key, parent key]`` for active links, each end checked to be a concept of the release;
    a pair named by several active ids is merged once by the statement. Retired pairs go to the scratch."""

    def __init__(self, files: Rf2Release, scratch: ReleaseScratch) -> None:
        assert files.relationships is not None
        self.path, self.concepts_name, self.scratch = files.relationships, files.concepts.name, scratch

    def rows(self) -> Iterator[list[str]]:
        for chunk in batched(read_is_a(self.path), CHUNK):
            unknown = self.scratch.unknown_concepts(int(end) for link in chunk for end in (link.child_id,
                                                                                            link.parent_id))
            if unknown:
                link = next(link for link in chunk if {int(link.child_id), int(link.parent_id)} & unknown)
                end, column = ((link.child_id, "sourceId") if int(link.child_id) in unknown
                               else (link.parent_id, "destinationId"))
                raise ParseError(self.path, None, f"row {link.relationship_id} {column}",
                                 f"a concept of {self.concepts_name}",
                                 f"{end} (IS-A {link.child_id} → {link.parent_id})")
            self.scratch.add_retired_pairs((int(link.child_id), int(link.parent_id))
                                           for link in chunk if not link.active)
            for link in chunk:
                if link.active:
                    yield [SNOMED.key(link.child_id), SNOMED.key(link.parent_id)]


class _MapStream:
    """Map rows (lists in ``MAP_ROW`` order), each mapped concept checked to be a concept of the release."""

    def __init__(self, path: Path, scratch: ReleaseScratch, concepts_name: str) -> None:
        self.path, self.scratch, self.concepts_name = path, scratch, concepts_name
        self.active = self.targets = 0

    def rows(self) -> Iterator[list[Any]]:
        for chunk in batched(read_extended_map(self.path), CHUNK):
            unknown = self.scratch.unknown_concepts(int(row.concept_id) for row in chunk)
            if unknown:
                row = next(row for row in chunk if int(row.concept_id) in unknown)
                raise ParseError(self.path, None, f"row {row.id} referencedComponentId",
                                 f"a concept of {self.concepts_name}", row.concept_id)
            self.scratch.add_mapped_concepts(int(row.concept_id) for row in chunk)
            for row in chunk:
                self.active += row.active
                self.targets += row.target is not None
                target = ICD10CM.normalise(row.target) if row.target else None
                yield [SNOMED.key(row.concept_id), map_rule_id(row), row.id, row.group, row.priority, row.rule,
                       row.advice, row.correlation_id, row.category_id, row.active,
                       row.effective_time.isoformat(), ICD10CM.key(target) if target else None, target]


register("snomed")(SnomedLoader)
