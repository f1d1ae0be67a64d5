"""Label and relationship-type names, read from the ontology (never typed as literals elsewhere).

``L.ICD10CMCode`` is the label string ``"ICD10CMCode"``; ``R.EXCLUDES1`` the type
``"EXCLUDES1"``. An undeclared name raises AttributeError at import time of the caller,
so a typo cannot reach the graph. ``NODE_SPECS``/``REL_SPECS`` carry keys, required
properties and endpoint labels for schema generation and the ontology check.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from owlready2 import Thing

from ontology.model import ontology


@dataclass(frozen=True)
class NodeSpec:
    label: str
    labels: tuple[str, ...]  # the class's label first, then its ancestors' (most specific first)
    parent: str | None
    key: str | None
    required: tuple[str, ...]
    lookups: tuple[str, ...]
    fulltext: tuple[str, ...]
    comment: str


@dataclass(frozen=True)
class RelSpec:
    name: str
    type: str
    domain: tuple[str, ...]
    range: tuple[str, ...]
    required: tuple[str, ...]
    comment: str
    lookups: tuple[str, ...] = ()  # relationship range indexes


def _first(values: list[object]) -> str | None:
    return str(values[0]) if values else None


@lru_cache(maxsize=1)
def _specs() -> tuple[dict[str, NodeSpec], dict[str, RelSpec]]:
    onto = ontology()
    nodes: dict[str, NodeSpec] = {}
    for cls in onto.classes():
        label = _first(cls.neo4jLabel)
        if label is None:
            continue
        chain = [c for c in cls.mro() if isinstance(c, type) and c is not Thing and getattr(c, "neo4jLabel", None)]
        labels = tuple(str(c.neo4jLabel[0]) for c in chain)
        root = chain[-1]
        nodes[label] = NodeSpec(
            label=label,
            labels=labels,
            parent=labels[1] if len(labels) > 1 else None,
            key=_first(cls.nodeKey) if cls is root else None,
            required=tuple(
                dict.fromkeys(str(p) for c in reversed(chain) for p in sorted(map(str, c.requiredProperty)))
            ),
            lookups=tuple(sorted(str(p) for p in cls.lookupProperty)),
            fulltext=tuple(sorted(str(p) for p in cls.fulltextProperty)),
            comment=_first(cls.comment) or "",
        )
    rels: dict[str, RelSpec] = {}
    for prop in onto.object_properties():
        rtype = _first(prop.neo4jType)
        if rtype is None:
            continue
        rels[rtype] = RelSpec(
            name=prop.name,
            type=rtype,
            domain=tuple(str(c.neo4jLabel[0]) for c in prop.domain),
            range=tuple(str(c.neo4jLabel[0]) for c in prop.range),
            required=tuple(sorted(str(p) for p in prop.requiredProperty)),
            comment=_first(prop.comment) or "",
            lookups=tuple(sorted(str(p) for p in prop.lookupProperty)),
        )
    return nodes, rels


NODE_SPECS, REL_SPECS = _specs()


class _Names:
    """Attribute access to declared names only."""

    def __init__(self, names: set[str], what: str) -> None:
        self._names = frozenset(names)
        self._what = what

    def __getattr__(self, name: str) -> str:
        if name.startswith("_") or name not in self._names:
            raise AttributeError(f"{name!r} is not a {self._what} declared in the ontology")
        return name

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(sorted(self._names))


L = _Names(set(NODE_SPECS), "node label")
R = _Names(set(REL_SPECS), "relationship type")


def labels_for(label: str) -> tuple[str, ...]:
    """Every label a node of this class carries (its own and its ancestors')."""
    return NODE_SPECS[label].labels


def cypher_labels(label: str) -> str:
    """``:ICD10CMCode:Code`` for a node pattern; names come from the ontology only."""
    return "".join(f":`{name}`" for name in labels_for(label))


def key_of(label: str) -> str:
    """The key property of the label (inherited from the root class)."""
    spec = NODE_SPECS[label]
    root = NODE_SPECS[spec.labels[-1]]
    if root.key is None:
        raise KeyError(f"{label} has no node key in the ontology")
    return root.key


def seek_by_key(var: str, label: str, value: str, *, optional: bool = False) -> str:
    """``MATCH (var:Label {key: value})`` pinned to a seek of the label's unique-key index.

    A statement replanned on statistics that lag a big load once chose an index scan per row instead (a demo's
    coding load, 62 s instead of 3: bench/RESULTS.md, session 14); a plain ``USING INDEX`` still allows that scan,
    ``USING INDEX SEEK`` allows only a seek."""
    key = key_of(label)
    match = "OPTIONAL MATCH" if optional else "MATCH"
    return f"{match} ({var}:{label} {{{key}: {value}}}) USING INDEX SEEK {var}:{label}({key})"
