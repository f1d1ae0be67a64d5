"""The auditors' named queries: ``queries/*.cypher`` files with a header describing them.

Header lines (``//`` comments before the first Cypher line):

    // name: drg_shifts
    // description: Encounters whose revisions moved expected payment by more than $min_delta.
    // param: min_delta float = 5000 -- smallest absolute payment change, in dollars
    // param: payer string = null -- payer id, or null for every payer
    // example: cypher-shell -f queries/drg_shifts.cypher -P 'min_delta => 5000' -P 'payer => null'

Every parameter is declared, with a default, so the service can fill what a caller omits and
cypher-shell users see what to pass.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from graph_service.errors import NotFound, Unprocessable

QUERIES_DIR = Path(__file__).resolve().parents[2] / "queries"
_PARAM = re.compile(r"^(?P<name>\w+)\s+(?P<type>\w+)(?:\s*=\s*(?P<default>.+?))?\s*(?:--\s*(?P<doc>.*))?$")
_TYPES = {"string": str, "int": int, "float": (int, float), "bool": bool, "date": str, "list": list}


@dataclass(frozen=True)
class QueryParam:
    name: str
    type: str
    default: Any
    description: str


@dataclass(frozen=True)
class NamedQuery:
    name: str
    description: str
    cypher: str
    params: tuple[QueryParam, ...]
    example: str = ""
    file: str = field(default="")

    def bind(self, given: dict[str, Any]) -> dict[str, Any]:
        unknown = set(given) - {p.name for p in self.params}
        if unknown:
            raise Unprocessable(f"{self.name} takes no parameter(s) {sorted(unknown)}; it takes "
                                f"{[p.name for p in self.params]}")
        bound: dict[str, Any] = {}
        for p in self.params:
            value = given.get(p.name, p.default)
            if value is not None and not isinstance(value, _TYPES[p.type]):
                raise Unprocessable(f"parameter {p.name} must be a {p.type}, got {value!r}")
            bound[p.name] = value
        return bound


def parse_query_file(path: Path) -> NamedQuery:
    header: dict[str, str] = {}
    params: list[QueryParam] = []
    for line in path.read_text().splitlines():
        if not line.startswith("//"):
            if line.strip():
                break
            continue
        key, _, value = line[2:].strip().partition(":")
        value = value.strip()
        if key == "param":
            m = _PARAM.match(value)
            if m is None or m["type"] not in _TYPES:
                raise ValueError(f"{path.name}: bad param line {value!r} (name type = default -- description)")
            default = json.loads(m["default"]) if m["default"] else None
            params.append(QueryParam(m["name"], m["type"], default, (m["doc"] or "").strip()))
        elif key in ("name", "description", "example"):
            header[key] = (header.get(key, "") + " " + value).strip()
    if "name" not in header:
        raise ValueError(f"{path.name}: the header needs a '// name:' line")
    return NamedQuery(header["name"], header.get("description", ""), path.read_text(), tuple(params),
                      header.get("example", ""), path.name)


@lru_cache(maxsize=1)
def named_queries(directory: Path = QUERIES_DIR) -> dict[str, NamedQuery]:
    queries = [parse_query_file(p) for p in sorted(directory.glob("*.cypher"))]
    return {q.name: q for q in queries}


def get_named_query(name: str) -> NamedQuery:
    try:
        return named_queries()[name]
    except KeyError:
        raise NotFound(f"no named query {name!r}; known: {sorted(named_queries())}") from None
