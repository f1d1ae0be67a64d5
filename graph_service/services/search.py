"""Full-text search over code titles and inclusion terms in one release."""

from __future__ import annotations

import re

from graph_service.errors import BadRequest
from graph_service.graph import Graph
from graph_service.models.search import SearchHit, SearchPage
from graph_service.services.releases import resolve_release
from ontology.code_systems import system
from ontology.release_ranges import membership, with_scope
from ontology.schema import FULLTEXT_INDEX

SEARCH = f"""
{with_scope()}
CALL db.index.fulltext.queryNodes('{FULLTEXT_INDEX}', $query) YIELD node, score
WHERE node.system = $system
MATCH {membership('node', 'm', 'scope')}
WITH node, m, score ORDER BY score DESC, node.code
WITH collect({{code: node.code, title: m.title, billable: m.billable, score: score,
              kind: m.kind}}) AS hits
RETURN size(hits) AS total, hits[$offset..$offset + $limit] AS items
"""
_LUCENE_SPECIAL = re.compile(r'([+\-&|!(){}\[\]^"~*?:\\/])')
_MAX_TERMS = 12


def lucene_query(text: str) -> str:
    """User text → a safe Lucene query: every term escaped and required; the last one as a prefix."""
    terms = [t for t in re.split(r"\s+", text.strip()) if t][:_MAX_TERMS]
    if not terms:
        raise BadRequest("the search text is empty")
    escaped = [_LUCENE_SPECIAL.sub(r"\\\1", t.lower()) for t in terms]
    escaped[-1] = f"({escaped[-1]} OR {escaped[-1]}*)"
    return " AND ".join(escaped)


def search_codes(graph: Graph, q: str, system_id: str, release: str | None, offset: int, limit: int) -> SearchPage:
    cs = system(system_id)
    rel = resolve_release(graph, cs.releases_of, release)
    row = graph.read_one(SEARCH, query=lucene_query(q), system=cs.id, release=rel.id, offset=offset, limit=limit)
    total, items = (row["total"], row["items"]) if row else (0, [])
    return SearchPage(q=q, system=cs.id, release=rel.id, total=total, offset=offset, limit=limit,
                      items=[SearchHit(**i) for i in items])
