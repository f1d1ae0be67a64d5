"""Code records and hierarchy navigation, always within one visible release."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import TypeAdapter

from graph_service.errors import BadRequest, NotFound
from graph_service.graph import Graph
from graph_service.models.codes import CodePage, CodeRecord, CodeRef, MapRow, NoteTarget, Subsumption
from graph_service.models.releases import ReleaseInfo
from graph_service.reference.code_table import RANGE_FIELDS, CodeTable, build_code_table
from graph_service.services.releases import resolve_release
from ontology.code_systems import CodeSystem, system
from ontology.release_ranges import NOTE_TYPES, in_release, is_a_path, membership, valid_in, with_scope
from ontology.vocabulary import L, R

_NOTES_JSON = TypeAdapter(list[NoteTarget])
_EMPTY_NOTES = b',"notes":[]'

# Classifications answered from release tables held in memory (trees of up to ~10^5 codes). SNOMED CT is
# a large polyhierarchy and stays on the graph queries below.
MEMORY_SYSTEMS = frozenset({"icd10cm", "icd10pcs", "cpt", "hcpcs"})
# Cross-release facts in a table (REPLACED_BY) also come from these loads.
TABLE_DEPENDS = {"icd10cm": ("icd10cm", "icd10cm_conversion")}
MAX_DEPTH = 12  # deeper than any classification loaded (ICD-10-CM: chapter → 7th character is 7)

# Memberships, IS_A and notes are stored over ranges of releases and read where valid in the release's scope
# (ontology/release_ranges.py); a code's releases are the visible ones its ranges are valid in.
CODE_RECORD = f"""
{with_scope()}
MATCH (c:{L.Code} {{key: $key}})-[m:{R.IN_RELEASE}]->(:{L.Release}) WHERE {valid_in('m', 'scope')}
CALL (c) {{
  MATCH (r:{L.Release} {{status: 'visible'}}) WHERE {in_release('c', 'r')}
  WITH r ORDER BY r.effective_from, r.version
  RETURN collect(r.id) AS releases
}}
CALL (c, scope) {{
  OPTIONAL MATCH p = {is_a_path('c', 'a', 'scope', f'1,{MAX_DEPTH}')}
  WITH a, min(length(p)) AS depth, scope
  OPTIONAL MATCH (a)-[am:{R.IN_RELEASE}]->(:{L.Release}) WHERE {valid_in('am', 'scope')}
  WITH a, depth, am ORDER BY depth
  RETURN collect(CASE WHEN a IS NULL THEN null
                      ELSE {{code: a.code, title: am.title, billable: am.billable}} END) AS parents
}}
CALL (c, scope) {{
  OPTIONAL MATCH p = {is_a_path('c', 'src', 'scope', f'0,{MAX_DEPTH}')}
  WITH src, min(length(p)) AS depth, scope
  OPTIONAL MATCH (src)-[n:{"|".join(NOTE_TYPES)}]->(t) WHERE {valid_in('n', 'scope')}
  OPTIONAL MATCH (t)-[tm:{R.IN_RELEASE}]->(:{L.Release}) WHERE {valid_in('tm', 'scope')}
  WITH n, t, tm, src, depth ORDER BY depth, type(n), t.code, n.note
  RETURN collect(CASE WHEN n IS NULL THEN null
                      ELSE {{kind: type(n), note: n.note, code: t.code, title: tm.title,
                             billable: tm.billable, condition: n.condition, qualifier: n.qualifier,
                             inherited_from: CASE WHEN depth = 0 THEN null ELSE src.code END}} END) AS notes
}}
CALL (c) {{
  OPTIONAL MATCH (c)-[:{R.HAS_MAP_RULE} {{release: $release}}]->(mr:{L.MapRule})
  WHERE coalesce(mr.active, true)
  OPTIONAL MATCH (mr)-[:{R.MAPS_TO} {{release: $release}}]->(t)
  WITH mr, t ORDER BY mr.group, mr.priority
  RETURN collect(CASE WHEN mr IS NULL THEN null
                      ELSE {{group: mr.group, priority: mr.priority, rule: mr.rule, advice: mr.advice,
                             target: t.code, correlation: mr.correlation, category: mr.category}} END) AS maps
}}
RETURN c.code AS code, properties(m) AS membership, releases, parents, notes, maps,
       [(c)-[r:{R.REPLACED_BY}]->(n) | {{code: n.code, release: r.release, basis: r.basis}}] AS replaced_by,
       COUNT {{ (c)<-[e:{R.IS_A}]-() WHERE {valid_in('e', 'scope')} }} AS children_count
"""

_MEMBERSHIP_FIELDS = {
    "title", "billable", "kind", "inclusion_terms", "unresolved_notes", "release", "load_run", "search_terms",
    *RANGE_FIELDS,
}


def _system(system_id: str) -> CodeSystem:
    try:
        return system(system_id)
    except KeyError as exc:
        raise NotFound(str(exc.args[0])) from None


def code_table(graph: Graph, cs: CodeSystem, rel: ReleaseInfo) -> CodeTable | None:
    """The in-memory table of ``rel`` if its system is held in memory and the table is built for the
    catalog as it is now; None means "read the graph" (a service builds the table in the background)."""
    if cs.releases_of not in MEMORY_SYSTEMS:
        return None
    store = graph.reference
    depends = TABLE_DEPENDS.get(cs.releases_of, (cs.releases_of,))
    catalog = store.catalog()

    def build() -> CodeTable:
        order = {r.id: i for i, r in enumerate(catalog.of())}  # by system, effective date, version
        return build_code_table(graph.driver, graph.database, cs.releases_of, rel.id, rel.load_run,
                                lambda r: order.get(r, len(order)))

    return store.table(("codes", rel.id), catalog.fingerprint(*depends), build)


def _ref(cs: CodeSystem, table: CodeTable, key: str) -> CodeRef:
    entry = table.entries.get(key)
    if entry is None:
        return CodeRef(system=cs.id, code=table.code_of(key))
    return CodeRef(system=cs.id, code=entry.code, title=entry.title, billable=entry.billable)


def _note_sources(table: CodeTable, key: str) -> list[tuple[str, bool]]:
    """Whose notes a code shows: its own, then each ancestor's, nearest first (marked inherited): what validation
    applies to the code."""
    return [(key, False), *((source, True) for source, _depth in table.ancestors_by_depth(key))]


def _table_notes(cs: CodeSystem, table: CodeTable, key: str) -> list[NoteTarget]:
    return [n for source, inherited in _note_sources(table, key)
            for n in _notes_of(cs, table, source, inherited=inherited)]


def _notes_json(cs: CodeSystem, table: CodeTable, key: str) -> bytes:
    """``_table_notes`` as the JSON of its list, from each source's notes serialised once per release."""
    def fragment(source: str, inherited: bool) -> bytes:
        # The models are built for the dump and dropped: only bytes stay held. Tens of thousands of held models
        # made each full garbage collection of a serving process walk them all (~100 ms stalls under load).
        notes = _build_notes(cs, table, source, inherited=inherited)
        return _NOTES_JSON.dump_json(list(notes))[1:-1]  # the items, without the list's brackets

    parts = [table.derived("notes json, inherited" if inherited else "notes json", source,
                           lambda s=source, i=inherited: fragment(s, i))
             for source, inherited in _note_sources(table, key)]
    return b"[" + b",".join(p for p in parts if p) + b"]"


def _notes_of(cs: CodeSystem, table: CodeTable, source: str, *, inherited: bool) -> tuple[NoteTarget, ...]:
    """One code's notes as shown on itself or, marked with it, on each of its descendants: built once per release
    (a block's or chapter's notes repeat on thousands of codes, ~200 notes per billable code on average)."""
    return table.derived("inherited notes" if inherited else "own notes", source,
                         lambda: _build_notes(cs, table, source, inherited=inherited))


def _build_notes(cs: CodeSystem, table: CodeTable, source: str, *, inherited: bool) -> tuple[NoteTarget, ...]:
    inherited_from = table.code_of(source) if inherited else None
    return tuple(NoteTarget(kind=n.kind, note=n.note, target=_ref(cs, table, n.target), condition=n.condition,
                            qualifier=n.qualifier, inherited_from=inherited_from)
                 for n in table.notes.get(source, ()))


def _record_from_table(cs: CodeSystem, rel: ReleaseInfo, table: CodeTable, code: str, *,
                       with_notes: bool = True) -> CodeRecord:
    key = cs.key(code)
    entry = table.entries.get(key)
    if entry is None:
        raise NotFound(f"{cs.name} code {cs.normalise(code)!r} is not in release {rel.id}")
    m = entry.membership
    releases = list(table.releases.get(key, ()))
    return CodeRecord(
        system=cs.id, code=entry.code, title=entry.title, billable=entry.billable, kind=entry.kind,
        release=rel.id, releases=releases,
        valid_from=releases[0] if releases else None, valid_to=releases[-1] if releases else None,
        parents=[_ref(cs, table, k) for k, _ in table.ancestors_by_depth(key)],
        children_count=len(table.children.get(key, ())),
        inclusion_terms=list(m.get("inclusion_terms") or []),
        unresolved_notes=list(m.get("unresolved_notes") or []),
        notes=_table_notes(cs, table, key) if with_notes else [],
        maps=[MapRow(**mp) for mp in table.maps.get(key, ())],
        replaced_by=[dict(s) for s in table.successors.get(key, ())],
        properties={k: v for k, v in m.items() if k not in _MEMBERSHIP_FIELDS},
    )


def get_code(graph: Graph, system_id: str, code: str, release: str | None = None,
             on: date | None = None) -> CodeRecord:
    cs = _system(system_id)
    rel = resolve_release(graph, cs.releases_of, release, on)
    table = code_table(graph, cs, rel)
    if table is not None:
        return _record_from_table(cs, rel, table, code)
    return _record_from_graph(graph, cs, rel, code)


def _record_from_graph(graph: Graph, cs: CodeSystem, rel: ReleaseInfo, code: str) -> CodeRecord:
    row = graph.read_one(CODE_RECORD, key=cs.key(code), release=rel.id)
    if row is None:
        raise NotFound(f"{cs.name} code {cs.normalise(code)!r} is not in release {rel.id}")
    m: dict[str, Any] = dict(row["membership"])
    releases: list[str] = row["releases"]
    return CodeRecord(
        system=cs.id, code=row["code"], title=m.get("title") or "", billable=m.get("billable"),
        kind=m.get("kind"), release=rel.id, releases=releases,
        valid_from=releases[0] if releases else None, valid_to=releases[-1] if releases else None,
        parents=[CodeRef(system=cs.id, **p) for p in row["parents"]],
        children_count=row["children_count"],
        inclusion_terms=list(m.get("inclusion_terms") or []),
        unresolved_notes=list(m.get("unresolved_notes") or []),
        notes=[
            NoteTarget(kind=n["kind"], note=n["note"], condition=n["condition"], qualifier=n["qualifier"],
                       inherited_from=n["inherited_from"],
                       target=CodeRef(system=cs.id, code=n["code"], title=n["title"], billable=n["billable"]))
            for n in row["notes"]
        ],
        maps=[MapRow(**mp) for mp in row["maps"]],
        replaced_by=sorted(row["replaced_by"], key=lambda r: (r["release"], r["code"])),
        properties={k: v for k, v in m.items() if k not in _MEMBERSHIP_FIELDS},
    )


def get_code_json(graph: Graph, system_id: str, code: str, release: str | None = None,
                  on: date | None = None) -> bytes:
    """``get_code`` as JSON bytes; from a release table, each record is serialised once per release, its notes
    once per note source."""
    cs = _system(system_id)
    rel = resolve_release(graph, cs.releases_of, release, on)
    table = code_table(graph, cs, rel)
    if table is None:
        return _record_from_graph(graph, cs, rel, code).model_dump_json().encode()
    key = cs.key(code)
    parts = table.record_parts.get(key)
    if parts is None:
        # The notes (~200 per billable code, mostly its block's and chapter's) are spliced in, in the model's field
        # order, from per-source JSON serialised once per release; the rest of the record is serialised here, once
        # per code and release. The first `,"notes":[]` is the field: inside a string a quote is escaped.
        bare = _record_from_table(cs, rel, table, code, with_notes=False).model_dump_json().encode()
        head, tail = bare.split(_EMPTY_NOTES, 1)
        parts = table.record_parts[key] = (head + b',"notes":', tail)
    return b"".join((parts[0], _notes_json(cs, table, key), parts[1]))


def _page_query(direction: str) -> str:
    pattern = {
        "children": is_a_path("c", "d", "scope", "1,1", down=True),
        "descendants": is_a_path("c", "d", "scope", f"1,{MAX_DEPTH}", down=True),
        "ancestors": is_a_path("c", "d", "scope", f"1,{MAX_DEPTH}"),
    }[direction]
    return f"""
    {with_scope()}
    MATCH {membership('c:' + L.Code + ' {key: $key}', 'cm', 'scope')}
    MATCH {pattern}
    WITH DISTINCT d, scope
    WITH collect(d) AS found, scope
    UNWIND found AS d
    WITH size(found) AS total, d, scope ORDER BY d.code SKIP $offset LIMIT $limit
    MATCH {membership('d', 'm', 'scope')}
    RETURN total, collect({{code: d.code, title: m.title, billable: m.billable}}) AS items
    """


_PAGE_QUERIES = {d: _page_query(d) for d in ("children", "descendants", "ancestors")}
_EXISTS = f"""
{with_scope()}
MATCH {membership('c:' + L.Code + ' {key: $key}', 'm', 'scope')} RETURN c.code AS code
"""


def navigate(graph: Graph, system_id: str, code: str, direction: str, *, release: str | None = None,
             on: date | None = None, offset: int = 0, limit: int = 100) -> CodePage:
    cs = _system(system_id)
    if not cs.hierarchical:
        raise BadRequest(f"{cs.name} has no hierarchy in the graph")
    rel = resolve_release(graph, cs.releases_of, release, on)
    key = cs.key(code)
    table = code_table(graph, cs, rel)
    if table is not None:
        if key not in table.entries:
            raise NotFound(f"{cs.name} code {cs.normalise(code)!r} is not in release {rel.id}")
        found = {"children": table.sorted_children, "descendants": table.descendants,
                 "ancestors": table.sorted_ancestors}[direction](key)
        return CodePage(system=cs.id, code=cs.normalise(code), release=rel.id, total=len(found), offset=offset,
                        limit=limit, items=[_ref(cs, table, k) for k in found[offset:offset + limit]])
    if graph.read_one(_EXISTS, key=key, release=rel.id) is None:
        raise NotFound(f"{cs.name} code {cs.normalise(code)!r} is not in release {rel.id}")
    row = graph.read_one(_PAGE_QUERIES[direction], key=key, release=rel.id, offset=offset, limit=limit)
    total, items = (row["total"], row["items"]) if row else (0, [])
    return CodePage(system=cs.id, code=cs.normalise(code), release=rel.id, total=total, offset=offset,
                    limit=limit, items=[CodeRef(system=cs.id, **i) for i in items])


_SUBSUMES = f"""
{with_scope()}
MATCH {membership('a:' + L.Code + ' {key: $a}', 'am', 'scope')}
MATCH {membership('b:' + L.Code + ' {key: $b}', 'bm', 'scope')}
RETURN a = b AS same,
       EXISTS {{ MATCH {is_a_path('b', 'a', 'scope', f'1,{MAX_DEPTH}')} }} AS a_subsumes_b,
       EXISTS {{ MATCH {is_a_path('a', 'b', 'scope', f'1,{MAX_DEPTH}')} }} AS b_subsumes_a
"""


def subsumes(graph: Graph, system_id: str, code_a: str, code_b: str, *, release: str | None = None,
             on: date | None = None) -> Subsumption:
    cs = _system(system_id)
    rel = resolve_release(graph, cs.releases_of, release, on)
    table = code_table(graph, cs, rel)
    if table is not None:
        a, b = cs.key(code_a), cs.key(code_b)
        row = None if a not in table.entries or b not in table.entries else {
            "same": a == b, "a_subsumes_b": table.subsumes(a, b), "b_subsumes_a": table.subsumes(b, a)}
    else:
        row = graph.read_one(_SUBSUMES, a=cs.key(code_a), b=cs.key(code_b), release=rel.id)
    if row is None:
        raise NotFound(f"{cs.normalise(code_a)!r} or {cs.normalise(code_b)!r} is not in release {rel.id}")
    outcome = ("equivalent" if row["same"] else "subsumes" if row["a_subsumes_b"]
               else "subsumed-by" if row["b_subsumes_a"] else "not-subsumed")
    return Subsumption(system=cs.id, release=rel.id, code_a=cs.normalise(code_a), code_b=cs.normalise(code_b),
                       outcome=outcome)
