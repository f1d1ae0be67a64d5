"""Writing a code system's release: code nodes, per-release membership, hierarchy and code-to-code edges.

Every code loader (ICD-10-CM, ICD-10-PCS, HCPCS, CPT) goes through these few statements, so membership,
provenance and versioning work the same for all of them:

    (c:Code:<SystemLabel> {key, system, code})-[:IN_RELEASE {title, billable, …}]->(:Release)
    (child)-[:IS_A {release}]->(parent)
    (source)-[:<TYPE> {release, …}]->(target)

A code row names its parent, and the statement that writes the code's node and membership also links it to the
parent: a code system's rows arrive in its hierarchy's order, so a separate hierarchy pass only sought every
code again (bench/RESULTS.md, session 16). Rows are written parents first, a level at a time, so the parent's
batch has committed before a child's batch seeks it, whichever writer session ran it.

A code node is shared by every release that contains it, so it is always MERGEd by its unique key; what
changes between releases lives on the release-scoped relationships. When the release was created by this
run (``ctx.fresh_release``) none of those can exist yet: they are CREATEd, after duplicates are dropped here
(MERGE used to drop them). A visible release loaded again from the same files MERGEs, so that stays a no-op.
Rows travel as lists (``RowLayout``) and the membership is a literal map, so no batch is planned with an Eager
but the one the parent seek needs (it holds one batch).
Edge endpoints and parents are sought by the code key's index, pinned to a seek (``seek_by_key``): a statement
replanned on statistics that lag a big load can otherwise choose a scan per row (session 14 found one in the
coding load, bench/RESULTS.md).
Node titles are denormalised from the newest visible release when a release is promoted
(``refresh_code_titles``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from loaders.errors import LoadError
from loaders.machinery import code_ranges
from loaders.machinery.background import in_background
from loaders.machinery.pipeline import LoadContext
from loaders.machinery.release_chain import CHAIN, CODE_CHAIN, ChainPlan
from loaders.machinery.row_layout import RowLayout, property_name
from ontology.code_systems import CodeSystem
from ontology.release_ranges import code_scope, valid_in
from ontology.vocabulary import L, R, labels_for, seek_by_key

CODE_FIELDS = ("key", "code", "title", "billable", "search_terms")
STAMPS = {"release": "$release", "load_run": "$run"}  # provenance on every relationship a release writes
# Code rows and release memberships touch disjoint nodes (the Release takes concurrent relationship inserts):
# two transactions in flight keep the server busy while the next batch is packed.
CODE_SESSIONS = 2
# Note edges share their targets (a code is named by many notes): one session, no lock waits.
EDGE_SESSIONS = 1


# Fields of a code row that are the node's (its key and code) or its place in the hierarchy, not the membership's.
NOT_MEMBERSHIP = ("key", "code", "parent")


def code_row(
    cs: CodeSystem, code: str, title: str, *, billable: bool | None, search_terms: str = "",
    parent: str | None = None, **membership: Any,
) -> dict[str, Any]:
    """One row for ``write_codes``: the node's key and code, the code it IS_A in this release (if any), and the
    release membership's properties."""
    normalised = cs.normalise(code)
    props = {k: v for k, v in membership.items() if v is not None}
    # cs.key(normalised) would normalise again: a code row is built per code of a release (100k for ICD-10-CM).
    row = {"key": f"{cs.id}|{normalised}", "code": normalised, "title": title, "billable": billable,
           "search_terms": search_terms, **props}
    if parent is not None:
        row["parent"] = cs.key(parent)
    return row


def code_rows_statement(label: str, layout: RowLayout, *, fresh: bool) -> str:
    """The code nodes, their memberships and, when the layout has a ``parent``, their IS_A edges. The parent seek
    after the node MERGE makes Cypher put an Eager between them, which holds one batch: harmless at batch size."""
    labels = "".join(f":`{lab}`" for lab in labels_for(label) if lab != L.Code)
    membership = layout.literal_map([f for f in layout.fields if f not in NOT_MEMBERSHIP], **STAMPS)
    link = (f"CREATE (c)-[:{R.IN_RELEASE} {membership}]->(rel)" if fresh
            else f"MERGE (c)-[m:{R.IN_RELEASE}]->(rel) ON CREATE SET m += {membership}")
    is_a = (f"CREATE (c)-[:{R.IS_A} {{release: $release, load_run: $run}}]->(p)" if fresh
            else f"MERGE (c)-[e:{R.IS_A} {{release: $release}}]->(p) ON CREATE SET e.load_run = $run")
    hierarchy = f"""WITH c, row WHERE row.parent IS NOT NULL
    {seek_by_key('p', L.Code, 'row.parent')}
    {is_a}""" if "parent" in layout.fields else ""
    return f"""
    MATCH (rel:{L.Release} {{id: $release}})
    {layout.unwind()}
    MERGE (c:{L.Code} {{key: row.key}})
      ON CREATE SET c.code = row.code, c.system = $system, c.load_run = $run, c.title = row.title,
                    c.search_terms = row.search_terms
    SET c{labels}
    {link}
    {hierarchy}
    """


def edge_statement(rel_type: str, layout: RowLayout, *, fresh: bool, identity: tuple[str, ...] = ()) -> str:
    """``identity``: properties that tell two edges of one (source, target) apart in a release (a note's text)."""
    if rel_type not in R:
        raise KeyError(rel_type)
    props = layout.literal_map([f for f in layout.fields if f not in ("source", "target")], **STAMPS)
    keys = layout.literal_map(identity, release="$release")
    link = (f"CREATE (s)-[:`{rel_type}` {props}]->(t)" if fresh
            else f"MERGE (s)-[e:`{rel_type}` {keys}]->(t) ON CREATE SET e += {props}")
    return f"""
    {layout.unwind()}
    {seek_by_key('s', L.Code, 'row.source')}
    {seek_by_key('t', L.Code, 'row.target')}
    {link}
    """


# A code node's title and search terms are those of its newest visible release (``rel``'s system) that holds it.
# Its memberships name the release that started each range, so the releases are matched to the ranges valid in
# them (a handful of releases, a few memberships per code).
SET_NEWEST_TITLE = f"""
  MATCH (c)-[m:{R.IN_RELEASE}]->(:{L.Release})
  MATCH (r:{L.Release} {{system: rel.system, status: 'visible'}}) WHERE {valid_in('m', code_scope('r'))}
  WITH c, m ORDER BY r.effective_from DESC, r.version DESC LIMIT 1
  WITH c, m WHERE c.title IS NULL OR c.title <> m.title
               OR coalesce(c.search_terms, '') <> coalesce(m.search_terms, '')
  SET c.title = m.title, c.search_terms = m.search_terms
"""

# After promotion: node titles and search terms from each code's newest visible release. Only the codes the
# promoted release wrote (its ranges start there) can have a new newest text, and only where its text differs
# from the node's can the answer change; only those are written (every write also updates the full-text index).
REFRESH_TITLES = f"""
MATCH (rel:{L.Release} {{id: $release}})<-[new:{R.IN_RELEASE}]-(c:{L.Code} {{system: $system}})
// Equal text: whichever release is the newest, the node already says what it should.
WHERE c.title IS NULL OR c.title <> new.title OR coalesce(c.search_terms, '') <> coalesce(new.search_terms, '')
CALL (c, rel) {{
{SET_NEWEST_TITLE}
}} IN TRANSACTIONS OF 10000 ROWS
"""


def _first_of_each(rows: Iterable[Mapping[str, Any]], identity: tuple[str, ...]) -> list[Mapping[str, Any]]:
    """Rows with a repeated identity dropped (the first wins, as a MERGE's ON CREATE did); the drop is counted."""
    seen: set[Any] = set()
    kept: list[Mapping[str, Any]] = []
    (single,) = identity if len(identity) == 1 else (None,)
    for row in rows:
        ident = row[single] if single else tuple(row[f] for f in identity)  # one field: per code of a release
        if ident not in seen:
            seen.add(ident)
            kept.append(row)
    return kept


def _layout(fixed: tuple[str, ...], rows: list[Mapping[str, Any]]) -> RowLayout:
    extra = sorted({k for row in rows for k in row} - set(fixed))
    return RowLayout(fixed + tuple(property_name(k) for k in extra))


def write_codes(ctx: LoadContext, cs: CodeSystem, rows: Iterable[Mapping[str, Any]], *, label: str | None = None,
                name: str = "codes") -> int:
    """Rows from ``code_row``; returns how many were given (a repeated code is written once, with its first
    row's parent). A parent must be a code of this call or already in the graph (an earlier call). In a chain
    release the rows are held and written, if changed, once the loader is done (``code_ranges``)."""
    given = list(rows)
    unique = _first_of_each(given, ("key",))
    _count_repeats(ctx, name, len(given) - len(unique))
    held = _held_release(ctx)
    layout = _layout(CODE_FIELDS + (("digest",) if held else ()), unique)
    statement = code_rows_statement(label or cs.label, layout, fresh=ctx.fresh_release)

    def write(chosen: list[Mapping[str, Any]]) -> None:
        for level in parents_first(chosen):
            ctx.writer.write(
                f"{cs.id} {name}", statement, level, params={"system": cs.id}, layout=layout,
                sessions=CODE_SESSIONS, describe_row=lambda r: f"code {r.get('code')!r}",
            )

    if held:
        held.add_codes(unique, write)  # rows of code_row: dicts of this load, which the digest is stamped on
    else:
        write(unique)
    return len(given)


def parents_first(rows: list[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """The rows in levels, in their order within each: level 0 has no parent among the rows, level n+1 has its
    parent in level n. One level when no row's parent is another row (the common case: one call per depth)."""
    by_key = {row["key"]: row for row in rows}
    depth: dict[Any, int] = {}
    for row in rows:
        chain, key = [], row["key"]
        while key not in depth:
            parent = by_key[key].get("parent")
            if parent not in by_key:
                depth[key] = 0
                break
            chain.append(key)
            if len(chain) > len(by_key):
                raise LoadError(f"the hierarchy has a cycle through code {by_key[key].get('code')!r}")
            key = parent
        for k in reversed(chain):
            depth[k] = depth[by_key[k]["parent"]] + 1
    levels: list[list[Mapping[str, Any]]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for row in rows:
        levels[depth[row["key"]]].append(row)
    return levels


def write_edges(ctx: LoadContext, rel_type: str, rows: Iterable[Mapping[str, Any]],
                identity: tuple[str, ...] = ()) -> int:
    """Rows: ``{"source": key, "target": key, "props": {...}}``; one edge per (source, target) in a release, or
    per (source, target, *identity) when the props named in ``identity`` tell edges apart (never null)."""
    given = [{"source": r["source"], "target": r["target"], **r.get("props", {})} for r in rows]
    unique = _first_of_each(given, ("source", "target", *identity))
    _count_repeats(ctx, f"{rel_type} edges", len(given) - len(unique))
    layout = _layout(("source", "target"), unique)
    statement = edge_statement(rel_type, layout, fresh=ctx.fresh_release, identity=identity)

    def write(chosen: list[Mapping[str, Any]]) -> None:
        ctx.writer.write(f"{rel_type} edges", statement, chosen, layout=layout, sessions=EDGE_SESSIONS,
                         describe_row=lambda r: f"{r['source']} {rel_type} {r['target']}")

    held = _held_release(ctx)
    if held:
        held.add_edges(rel_type, unique, write)
    else:
        write(unique)
    return len(given)


def _held_release(ctx: LoadContext) -> code_ranges.HeldRelease | None:
    """The release's held rows (created, and the previous release's digests read in the background, on the first
    call), or None when the release is written as it comes (a reload of a release written in full)."""
    if "held" not in ctx.extensions:
        chain = CODE_CHAIN
        chosen = chain.plan(ctx.writer.driver, ctx.writer.database, ctx.release.system, ctx.release.id,
                            ctx.release.effective_from, ctx.fresh_release)
        chain.record(ctx.writer.driver, ctx.writer.database, ctx.release.id, chosen)
        held = None
        if chosen.kind != "reload" or chosen.layout == CHAIN:
            # A diff compares with the previous release; a reload of a chain release with what it holds already.
            compared = ctx.release.id if chosen.kind == "reload" else chosen.previous
            previous = (in_background(partial(code_ranges.read_digests, ctx.writer.driver, ctx.writer.database,
                                              compared), f"read {compared}")
                        if compared else None)
            held = code_ranges.HeldRelease(chosen, previous)
            ctx.before_close.append(lambda: _write_held(ctx, held))
        ctx.extensions["held"] = held
    return ctx.extensions["held"]


def _write_held(ctx: LoadContext, held: code_ranges.HeldRelease) -> None:
    """Compare the held rows with the previous release; close what changed or went, write what changed or came."""
    digests = held.stamp_digests()
    changes, write, close = held.changes(digests)
    if changes.kind == "first" and held.plan.kind == "diff":  # most codes changed: a chain of its own
        CODE_CHAIN.record(ctx.writer.driver, ctx.writer.database, ctx.release.id, ChainPlan("first", [ctx.release.id]))
    if close:
        ctx.writer.write("code ranges closed", code_ranges.CLOSE_RANGES, close,
                         params={"scope": held.plan.scope[:-1]}, describe_row=lambda key: f"code {key!r}")
    for call in held.codes:
        call.write(call.rows if write is None else [r for r in call.rows if r["key"] in write])
    for edges in held.edges:
        edges.write(edges.rows if write is None else [r for r in edges.rows if r["source"] in write])
    ctx.counts["code_ranges"] = changes.as_counts()


def _count_repeats(ctx: LoadContext, name: str, repeats: int) -> None:
    if repeats:
        ctx.counts[f"repeated_rows_dropped {name}"] = repeats


def refresh_code_titles(ctx: LoadContext, cs: CodeSystem) -> None:
    """After promotion: node titles and search terms of the release's codes from each one's newest visible release."""
    with ctx.writer.driver.session(database=ctx.writer.database) as session:
        session.run(REFRESH_TITLES, system=cs.id, release=ctx.release.id).consume()


def set_release_coverage(ctx: LoadContext, coverage: str) -> None:
    """``full`` (headers and codes) or ``billable-only`` (a code list): release diffs compare like for like."""
    ctx.writer.run("coverage", f"MATCH (r:{L.Release} {{id: $release}}) SET r.coverage = $coverage",
                   {"coverage": coverage})
