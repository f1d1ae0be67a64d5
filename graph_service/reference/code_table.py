"""One release of a classification held in process: codes, hierarchy, notes, cross-release facts.

A visible release never changes, so what the lookup, navigation and validation paths read of it is
loaded once with a few streaming queries and then answered from memory: a lookup is a dict probe, a
descendant page a slice of a list sorted once per node, a subsumption test a walk up a shallow tree.
The cross-release facts (which releases hold a code, REPLACED_BY successors) are part of the table, so
the store rebuilds it whenever any release of the system changes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from neo4j import Driver, Record

from ontology.release_ranges import NOTE_TYPES, code_scope, members, membership, valid_in, with_scope
from ontology.vocabulary import L, R

T = TypeVar("T")
_MISSING = object()

# One pass over the release's members; everything else about a code hangs off its node. Memberships, IS_A and notes
# are stored over ranges of releases (ontology/release_ranges.py): each is read where it is valid in the release's
# scope, and a code's releases come from its ranges (``_releases_of``), not from the release nodes they point at.
MEMBERS = f"""
{with_scope()}
{members('scope', 'c', 'm')}
RETURN c.key AS key, c.code AS code, properties(m) AS membership,
       [(c)-[p:{R.IS_A}]->(parent) WHERE {valid_in('p', 'scope')} | parent.key] AS parents,
       [(c)-[n:{"|".join(NOTE_TYPES)}]->(t) WHERE {valid_in('n', 'scope')}
        | [type(n), n.note, n.scope, t.key, t.code, n.condition, n.qualifier]] AS notes,
       [(c)-[r:{R.IN_RELEASE}]->() | [r.release, r.until]] AS ranges,
       [(c)-[s:{R.REPLACED_BY}]->(n) | {{code: n.code, release: s.release, basis: s.basis}}] AS successors
"""
VISIBLE_SCOPES = f"""
MATCH (r:{L.Release} {{status: 'visible'}})
RETURN r.id AS id, {code_scope('r')} AS scope
"""
MAPS = f"""
{with_scope()}
MATCH (c:{L.Code})-[:{R.HAS_MAP_RULE} {{release: $release}}]->(mr:{L.MapRule})
WHERE coalesce(mr.active, true) AND EXISTS {{ MATCH {membership('c', 'x', 'scope')} }}
OPTIONAL MATCH (mr)-[:{R.MAPS_TO} {{release: $release}}]->(t)
RETURN c.key AS key, mr.group AS group, mr.priority AS priority, mr.rule AS rule, mr.advice AS advice,
       t.code AS target, mr.correlation AS correlation, mr.category AS category
ORDER BY mr.group, mr.priority
"""
# What a membership says about the range it is stored over, not about the code.
RANGE_FIELDS = ("until", "closed_by", "digest")


def _releases_of(visible: list[tuple[str, frozenset[str]]]) -> Callable[[tuple[tuple[str, str | None], ...]],
                                                                          tuple[str, ...]]:
    """The visible releases a code's ranges make it valid in, memoised by the ranges (most codes share them)."""
    cache: dict[tuple[tuple[str, str | None], ...], tuple[str, ...]] = {}

    def releases(ranges: tuple[tuple[str, str | None], ...]) -> tuple[str, ...]:
        found = cache.get(ranges)
        if found is None:
            found = cache[ranges] = tuple(
                rid for rid, scope in visible
                if any(start in scope and (until is None or until not in scope) for start, until in ranges))
        return found
    return releases


@dataclass(frozen=True, slots=True)
class Note:
    kind: str
    note: str | None
    scope: str | None
    target: str  # key
    target_code: str
    condition: str | None = None  # "if applicable", "if known": the note applies only in some cases
    qualifier: str | None = None  # "with .42": the words that selected this target of a written range


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    code: str
    title: str
    billable: bool | None
    kind: str | None
    membership: dict[str, Any]


@dataclass
class CodeTable:
    """Everything the hot read paths need of one release of one code system."""

    system: str
    release: str
    load_run: str | None
    entries: dict[str, Entry]
    parents: dict[str, tuple[str, ...]]
    children: dict[str, tuple[str, ...]]
    notes: dict[str, tuple[Note, ...]]
    maps: dict[str, tuple[dict[str, Any], ...]]
    releases: dict[str, tuple[str, ...]]
    successors: dict[str, tuple[dict[str, Any], ...]]
    # Serialised code records without their notes (before and after the notes field), filled on first ask: a
    # release's records never change. The notes (~50 KB per billable code, mostly its block's and chapter's) are
    # kept once per note source and joined per request, so the held records stay ~1 KB per code, not ~50 KB.
    record_parts: dict[str, tuple[bytes, bytes]] = field(default_factory=dict, repr=False)
    _descendants: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _ancestors: dict[str, tuple[tuple[str, int], ...]] = field(default_factory=dict, repr=False)
    _notes_of_kinds: dict[tuple[str, frozenset[str]], tuple[Note, ...]] = field(default_factory=dict, repr=False)
    _self_and_ancestors: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    # What a service derives from one code of this release (e.g. the notes validation folds from its ancestors):
    # computed on first ask and kept with the table, so it is dropped with it when the release changes.
    _derived: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    def derived(self, name: str, key: str, build: Callable[[], T]) -> T:
        """``build()`` for code ``key`` under ``name``, once per release (a race builds it twice, harmlessly)."""
        found = self._derived.get((name, key), _MISSING)
        if found is _MISSING:
            found = self._derived[(name, key)] = build()
        return found  # type: ignore[no-any-return]

    def notes_of(self, key: str, kinds: frozenset[str]) -> tuple[Note, ...]:
        """The notes of ``kinds`` on ``key``, filtered once per node and release (a chapter carries thousands of
        Excludes2 notes that a code-set check never reads)."""
        found = self._notes_of_kinds.get((key, kinds))
        if found is None:
            found = tuple(n for n in self.notes.get(key, ()) if n.kind in kinds)
            self._notes_of_kinds[(key, kinds)] = found
        return found

    # ---- hierarchy ----------------------------------------------------------------------------------
    def ancestors_by_depth(self, key: str) -> tuple[tuple[str, int], ...]:
        """Every ancestor with its shortest distance, nearest first (a breadth-first walk up)."""
        found = self._ancestors.get(key)
        if found is None:
            depth: dict[str, int] = {}
            queue = deque((p, 1) for p in self.parents.get(key, ()))
            while queue:
                node, d = queue.popleft()
                if node in depth:
                    continue
                depth[node] = d
                queue.extend((p, d + 1) for p in self.parents.get(node, ()))
            found = tuple(depth.items())
            self._ancestors[key] = found
        return found

    def self_and_ancestors(self, key: str) -> tuple[str, ...]:
        found = self._self_and_ancestors.get(key)
        if found is None:
            found = self._self_and_ancestors[key] = (key, *(k for k, _ in self.ancestors_by_depth(key)))
        return found

    def present_under(self, keys: Iterable[str]) -> dict[str, list[str]]:
        """Each node at or above one of ``keys`` → those of ``keys`` at or below it (a note on a node is met by a
        code under it)."""
        under: dict[str, list[str]] = {}
        for key in dict.fromkeys(keys):
            for node in self.self_and_ancestors(key):
                under.setdefault(node, []).append(key)
        return under

    def ancestor_keys(self, key: str) -> frozenset[str]:
        return frozenset(k for k, _ in self.ancestors_by_depth(key))

    def descendants(self, key: str) -> tuple[str, ...]:
        """Every descendant's key, ordered by code; computed once per node and release."""
        found = self._descendants.get(key)
        if found is None:
            seen: set[str] = set()
            stack = list(self.children.get(key, ()))
            while stack:
                node = stack.pop()
                if node not in seen:
                    seen.add(node)
                    stack.extend(self.children.get(node, ()))
            found = tuple(sorted(seen, key=self.code_of))
            self._descendants[key] = found
        return found

    def warm_hierarchy(self) -> None:
        """Order the descendants of the top two levels (ICD-10-CM chapters and blocks) before the first
        request asks: the largest pages, sorted once per release instead of on a caller's clock."""
        roots = [k for k in self.children if k not in self.parents]
        for key in [*roots, *(c for r in roots for c in self.children.get(r, ()))]:
            self.descendants(key)

    def sorted_children(self, key: str) -> tuple[str, ...]:
        return tuple(sorted(self.children.get(key, ()), key=self.code_of))

    def sorted_ancestors(self, key: str) -> tuple[str, ...]:
        return tuple(sorted(self.ancestor_keys(key), key=self.code_of))

    def code_of(self, key: str) -> str:
        entry = self.entries.get(key)
        return entry.code if entry is not None else key.split("|", 1)[-1]

    def subsumes(self, a: str, b: str) -> bool:
        """True when ``a`` is a proper ancestor of ``b``."""
        return a in self.ancestor_keys(b)


def build_code_table(driver: Driver, database: str, system: str, release: str, load_run: str | None,
                     release_order: Callable[[str], Any]) -> CodeTable:
    """Read one release into memory: one streaming pass over its members (and its map rules, if any).

    ``release_order`` sorts release ids oldest first (the catalog's order), for each code's releases."""

    def rows(cypher: str) -> Iterable[Record]:
        # Records, not ``record.data()``: the values are plain lists and maps already, and the recursive copy
        # cost as much as decoding them.
        with driver.session(database=database, default_access_mode="READ", fetch_size=20_000) as session:
            yield from session.run(cypher, release=release)

    table = CodeTable(system=system, release=release, load_run=load_run, entries={}, parents={}, children={},
                      notes={}, maps={}, releases={}, successors={})
    children: dict[str, list[str]] = {}
    releases_of = _releases_of([(r["id"], frozenset(r["scope"])) for r in rows(VISIBLE_SCOPES)])
    for key, code, m, parents, notes, ranges, successors in rows(MEMBERS):  # the RETURN order of MEMBERS
        for name in RANGE_FIELDS:
            m.pop(name, None)
        table.entries[key] = Entry(key, code, m.get("title") or "", m.get("billable"), m.get("kind"), m)
        if parents:
            table.parents[key] = tuple(parents)
            for parent in parents:
                children.setdefault(parent, []).append(key)
        if notes:
            table.notes[key] = tuple(sorted((Note(*n) for n in notes),
                                            key=lambda n: (n.kind, n.target_code, n.note or "")))
        table.releases[key] = tuple(sorted(releases_of(tuple(map(tuple, ranges))), key=release_order))
        if successors:
            table.successors[key] = tuple(sorted(successors, key=lambda s: (s["release"], s["code"])))
    table.children = {k: tuple(v) for k, v in children.items()}
    maps: dict[str, list[dict[str, Any]]] = {}
    for row in rows(MAPS):
        mapped = dict(row)
        maps.setdefault(mapped.pop("key"), []).append(mapped)
    table.maps = {k: tuple(v) for k, v in maps.items()}
    table.warm_hierarchy()
    return table
