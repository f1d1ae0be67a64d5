"""Rows sent as lists in a fixed field order, named again on the server: the cheap wire form of a batch.

The Python driver packs every map key of every row; for a 5,000-row batch of ten-field maps that is most of
what a load spends in the client. A ``RowLayout`` sends each row as a list instead and opens the statement with
``UNWIND [r IN $rows | {key: r[0], …}] AS row``, so the Cypher after it still reads ``row.key``. The field
names are fixed when the statement is built, so a statement can also write them as literal property maps
(``CREATE (…)-[:IN_RELEASE {title: row.title, …}]->(…)``): a map whose keys only the data knows
(``SET m = row.props``) makes Cypher plan an Eager that materialises every batch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def property_name(name: str) -> str:
    """A field or property name safe to write into Cypher as is; anything else is refused."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a property name this writer puts into Cypher: {name!r}")
    return name


@dataclass(frozen=True)
class RowLayout:
    fields: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in self.fields:
            property_name(name)
        if len(set(self.fields)) != len(self.fields):
            raise ValueError(f"repeated field in {self.fields}")

    @classmethod
    def of(cls, fields: Iterable[str]) -> RowLayout:
        return cls(tuple(fields))

    def unwind(self, var: str = "row") -> str:
        """The statement's first clause: each list row back into a map named ``var``."""
        entries = ", ".join(f"{name}: r[{i}]" for i, name in enumerate(self.fields))
        return f"UNWIND [r IN $rows | {{{entries}}}] AS {property_name(var)}"

    def literal_map(self, names: Sequence[str], var: str = "row", **fixed: str) -> str:
        """``{title: row.title, …, release: $release}``: a property map Cypher can plan without an Eager."""
        entries = [f"{property_name(n)}: {var}.{property_name(n)}" for n in names]
        entries += [f"{property_name(k)}: {v}" for k, v in fixed.items()]
        return "{" + ", ".join(entries) + "}"

    def encode(self, row: Mapping[str, Any] | list[Any]) -> list[Any]:
        """A map's fields in order (a missing one travels as null; Cypher stores no property for a null in a
        literal map). A list is taken as already in the layout's order: a loader that builds its rows as lists
        (``ncci.load.PtpWireRow``) saves making a map per row only to take it apart here."""
        if isinstance(row, list):
            return row
        return list(map(row.get, self.fields))  # map: a third cheaper than a comprehension, per row of a load
