"""Writing a code system's release: code nodes, per-release membership, hierarchy and code-to-code edges.

Every code loader (ICD-10-CM, ICD-10-PCS, HCPCS, CPT, SNOMED CT) goes through these few
statements, so membership, provenance and versioning work the same for all of them:

    (c:Code:<SystemLabel> {key, system, code})-[:IN_RELEASE {title, billable, …}]->(:Release)
    (child)-[:IS_A {release}]->(parent)
    (source)-[:<TYPE> {release, …}]->(target)

A code node is shared by every release that contains it; what changes between releases
lives on the release-scoped relationships. Node titles are denormalised from the newest
visible release when a release is promoted (``refresh_code_titles``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from loaders.machinery.pipeline import LoadContext
from ontology.code_systems import CodeSystem
from ontology.vocabulary import L, R, labels_for


def code_rows_statement(label: str) -> str:
    extra = "".join(f" SET c:`{lab}`" for lab in labels_for(label) if lab != L.Code)
    return f"""
    MATCH (rel:{L.Release} {{id: $release}})
    UNWIND $rows AS row
    MERGE (c:{L.Code} {{key: row.key}})
      ON CREATE SET c.code = row.code, c.system = $system, c.load_run = $run, c.title = row.title,
                    c.search_terms = row.search_terms
    WITH c, row, rel{extra}
    MERGE (c)-[m:{R.IN_RELEASE}]->(rel)
      ON CREATE SET m = row.membership, m.release = $release, m.load_run = $run
    """


HIERARCHY = f"""
UNWIND $rows AS row
MATCH (c:{L.Code} {{key: row.child}})
MATCH (p:{L.Code} {{key: row.parent}})
MERGE (c)-[e:{R.IS_A} {{release: $release}}]->(p)
  ON CREATE SET e.load_run = $run
"""


def edge_statement(rel_type: str) -> str:
    if rel_type not in R:
        raise KeyError(rel_type)
    return f"""
    UNWIND $rows AS row
    MATCH (s:{L.Code} {{key: row.source}})
    MATCH (t:{L.Code} {{key: row.target}})
    MERGE (s)-[e:`{rel_type}` {{release: $release}}]->(t)
      ON CREATE SET e += row.props, e.load_run = $run
    """


REFRESH_TITLES = f"""
MATCH (c:{L.Code} {{system: $system}})
CALL (c) {{
  MATCH (c)-[m:{R.IN_RELEASE}]->(r:{L.Release} {{status: 'visible'}})
  WITH m ORDER BY r.effective_from DESC, r.version DESC LIMIT 1
  SET c.title = m.title, c.search_terms = m.search_terms
}} IN TRANSACTIONS OF 10000 ROWS
"""


def code_row(
    cs: CodeSystem, code: str, title: str, *, billable: bool | None, search_terms: str = "",
    **membership: Any,
) -> dict[str, Any]:
    """One row for ``write_codes``: the node's key and the release membership's properties."""
    normalised = cs.normalise(code)
    props = {k: v for k, v in membership.items() if v is not None}
    return {
        "key": cs.key(normalised), "code": normalised, "title": title, "search_terms": search_terms,
        "membership": {"title": title, "billable": billable, "search_terms": search_terms, **props},
    }


def write_codes(ctx: LoadContext, cs: CodeSystem, rows: Iterable[Mapping[str, Any]], *, label: str | None = None,
                name: str = "codes") -> int:
    return ctx.writer.write(
        f"{cs.id} {name}", code_rows_statement(label or cs.label), rows, params={"system": cs.id},
        describe_row=lambda r: f"code {r.get('code')!r}",
    )


def write_hierarchy(ctx: LoadContext, cs: CodeSystem, pairs: Iterable[tuple[str, str]]) -> int:
    rows = ({"child": cs.key(child), "parent": cs.key(parent)} for child, parent in pairs)
    return ctx.writer.write(f"{cs.id} hierarchy", HIERARCHY, rows)


def write_edges(ctx: LoadContext, rel_type: str, rows: Iterable[Mapping[str, Any]]) -> int:
    """Rows: ``{"source": key, "target": key, "props": {...}}``."""
    return ctx.writer.write(f"{rel_type} edges", edge_statement(rel_type), rows)


def refresh_code_titles(ctx: LoadContext, cs: CodeSystem) -> None:
    """After promotion: node titles and search terms from each code's newest visible release."""
    with ctx.writer.driver.session(database=ctx.writer.database) as session:
        session.run(REFRESH_TITLES, system=cs.id).consume()


def set_release_coverage(ctx: LoadContext, coverage: str) -> None:
    """``full`` (headers and codes) or ``billable-only`` (a code list): release diffs compare like for like."""
    ctx.writer.run("coverage", f"MATCH (r:{L.Release} {{id: $release}}) SET r.coverage = $coverage",
                   {"coverage": coverage})
