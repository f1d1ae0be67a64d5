"""Reference nodes that a release lists (guidelines, rule checks, modifier rules, MS-DRGs): one statement shape.

Rows are ``{key, props, …}``; the node is keyed by ``key`` (its release is part of the key where its content is
release-specific) and becomes a member of the run's release with the usual provenance stamps.
"""

from __future__ import annotations

from ontology.vocabulary import L, R


def release_nodes_statement(label: str, *, then: str = "") -> str:
    """MERGE a ``label`` node per row and its ``IN_RELEASE`` membership; ``then`` (starting ``WITH node, row``)
    continues the statement per row."""
    statement = f"""
MATCH (rel:{L.Release} {{id: $release}})
UNWIND $rows AS row
MERGE (node:{label} {{key: row.key}})
  ON CREATE SET node += row.props, node.load_run = $run
MERGE (node)-[m:{R.IN_RELEASE}]->(rel)
  ON CREATE SET m.release = $release, m.load_run = $run
"""
    return statement + (then.strip() + "\n" if then else "")
