"""A graph's fingerprint: one hash over every node, relationship and property (load-run records aside).

Two graphs have the same fingerprint only if they hold the same nodes with the same labels and properties,
joined by the same relationships with the same properties. ``LoadRun`` nodes (and what links to them) are left
out: a refused load records its failed run, which is the one change a refusal is meant to make.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from neo4j import Driver

from ontology.vocabulary import L

_NODES = f"""
MATCH (n) WHERE NOT n:{L.LoadRun}
RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS props
"""
_RELATIONSHIPS = f"""
MATCH (a)-[r]->(b) WHERE NOT a:{L.LoadRun} AND NOT b:{L.LoadRun}
RETURN elementId(a) AS a, type(r) AS type, properties(r) AS props, elementId(b) AS b
"""


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def graph_fingerprint(driver: Driver, database: str) -> tuple[str, dict[str, int]]:
    """(sha256 over the whole graph, node and relationship counts per label and type)."""
    nodes, _, _ = driver.execute_query(_NODES, database_=database)
    identity = {r["id"]: _canonical([sorted(r["labels"]), r["props"]]) for r in nodes}
    rels, _, _ = driver.execute_query(_RELATIONSHIPS, database_=database)
    lines = sorted(identity.values())
    lines += sorted(_canonical([identity[r["a"]], r["type"], r["props"], identity[r["b"]]]) for r in rels)
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    counts: Counter[str] = Counter()
    for r in nodes:
        counts.update(f":{label}" for label in r["labels"])
    counts.update(f"-[:{r['type']}]-" for r in rels)
    return digest, dict(sorted(counts.items()))
