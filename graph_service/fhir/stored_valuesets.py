"""Value sets loaded with ``codegraph load valueset``: read from the graph, members as resolved at load time.

A stored value set is found by url (and version, else the newest of the visible ``valueset`` releases). Its
expansion pages the CONTAINS edges by code; ``filter`` is the ``/v1/search`` full-text query over each
member system's release, kept to the members.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.valueset import ValueSet

from graph_service.fhir import systems
from graph_service.fhir.render import Checked, Part, checked, part
from graph_service.fhir.render import timestamp as _now
from graph_service.graph import Graph
from graph_service.services.releases import list_releases
from graph_service.services.search import search_codes
from ontology.code_systems import system
from ontology.release_ranges import code_scope, membership
from ontology.vocabulary import L, R

_FIND = f"""
MATCH (vs:{L.ValueSet} {{url: $url}}) WHERE vs.release IN $releases AND ($version IS NULL OR vs.version = $version)
RETURN vs.key AS key, vs.url AS url, vs.version AS version, vs.name AS name, vs.title AS title,
       vs.status AS status, vs.release AS release, vs.resource AS resource
"""
_PAGE = f"""
MATCH (vs:{L.ValueSet} {{key: $key}})-[m:{R.CONTAINS}]->(c:{L.Code})
MATCH (cr:{L.Release} {{id: m.code_release}})
WITH c, m, {code_scope('cr')} AS scope
MATCH {membership('c', 'im', 'scope')}
WITH c, m, im ORDER BY c.system, c.code
WITH collect({{system: c.system, code: c.code, title: im.title, release: m.code_release}}) AS members
RETURN size(members) AS total, members[$offset..$offset + $count] AS items
"""
_RELEASES = f"MATCH (:{L.ValueSet} {{key: $key}})-[m:{R.CONTAINS}]->() RETURN DISTINCT m.code_release AS release"
_MEMBER = f"""
MATCH (vs:{L.ValueSet} {{key: $key}})-[m:{R.CONTAINS}]->(c:{L.Code} {{key: $code}})
MATCH (cr:{L.Release} {{id: m.code_release}})
WITH c, m, {code_scope('cr')} AS scope
MATCH {membership('c', 'im', 'scope')}
RETURN c.code AS code, im.title AS title, m.code_release AS release
"""
_SEARCH_ALL = 1_000_000


@dataclass(frozen=True)
class Stored:
    key: str
    url: str
    version: str
    name: str | None
    title: str | None
    status: str
    release: str
    resource: dict[str, Any]


def find(graph: Graph, url: str, version: str | None) -> Stored | None:
    """The stored value set ``url`` (of ``version``, else the newest visible one); None if none is loaded."""
    if "?fhir_vs" in url:
        return None  # an implicit value set
    releases = [r.id for r in list_releases(graph, "valueset")]
    if not releases:
        return None
    rows = graph.read(_FIND, url=url, version=version, releases=releases)
    if not rows:
        return None
    row = max(rows, key=lambda r: releases.index(r["release"]))
    return Stored(key=row["key"], url=row["url"], version=row["version"], name=row["name"], title=row["title"],
                  status=row["status"] or "active", release=row["release"], resource=json.loads(row["resource"]))


_ALL = f"""
MATCH (vs:{L.ValueSet}) WHERE vs.release IN $releases AND ($url IS NULL OR vs.url = $url)
RETURN vs.key AS key, vs.url AS url, vs.version AS version, vs.release AS release, vs.resource AS resource
ORDER BY vs.url, vs.version
"""


def search(graph: Graph, url: str | None) -> list[ValueSet]:
    """The stored value sets of the visible releases (their definitions, compose included)."""
    releases = [r.id for r in list_releases(graph, "valueset")]
    if not releases:
        return []
    found = []
    for row in graph.read(_ALL, releases=releases, url=url):
        body = {k: v for k, v in json.loads(row["resource"]).items() if k not in ("text", "expansion")}
        name = f"{row['url'].rstrip('/').rsplit('/', 1)[-1]}-{row['version']}"
        body["id"] = re.sub(r"[^A-Za-z0-9.-]", "-", name)[:64]
        found.append(ValueSet.model_validate(body))
    return found


def _entry(graph: Graph, item: dict[str, Any]) -> dict[str, Any]:
    cs = system(item["system"])
    release = graph.reference.catalog().resolve(cs.releases_of, item["release"])
    return {"system": cs.fhir_uri, "version": systems.version_of(graph, cs, release), "code": item["code"],
            "display": item.get("title") or None}


def _filtered(graph: Graph, vs: Stored, text: str) -> list[dict[str, Any]]:
    hits: list[dict[str, Any]] = []
    for row in graph.read(_RELEASES, key=vs.key):
        release = row["release"]
        sys_id = release.split("@", 1)[0]
        page = search_codes(graph, text, sys_id, release, 0, _SEARCH_ALL)
        for hit in page.items:
            if graph.read_one(_MEMBER, key=vs.key, code=system(sys_id).key(hit.code)) is not None:
                hits.append({"system": sys_id, "code": hit.code, "title": hit.title, "release": release})
    return hits


def expansion(graph: Graph, vs: Stored, offset: int, count: int, text: str | None) -> Checked:
    if text:
        found = _filtered(graph, vs, text)
        total, items = len(found), found[offset:offset + count]
    else:
        row = graph.read_one(_PAGE, key=vs.key, offset=offset, count=count)
        total, items = (row["total"], row["items"]) if row else (0, [])
    used: list[dict[str, Any]] = [{"name": "offset", "valueInteger": offset}, {"name": "count", "valueInteger": count}]
    if text:
        used.append({"name": "filter", "valueString": text})
    body = {key: value for key, value in vs.resource.items() if key not in ("text", "expansion", "compose")}
    body.update({"status": vs.status, "expansion": {
        "identifier": f"urn:uuid:{uuid.uuid4()}", "timestamp": _now(), "total": total,
        "offset": offset, "parameter": used, "contains": [_entry(graph, i) for i in items] or None}})
    return checked(ValueSet, {k: v for k, v in body.items() if k != "id"})


def validate(graph: Graph, vs: Stored, system_url: str | None, code: str, display: str | None,
             system_version: str | None = None) -> list[Part]:
    cs = systems.code_system(system_url) if system_url else None
    candidates = [cs] if cs is not None else [system(r["release"].split("@", 1)[0])
                                              for r in graph.read(_RELEASES, key=vs.key)]
    for candidate in candidates:
        row = graph.read_one(_MEMBER, key=vs.key, code=candidate.key(code))
        if row is None:
            continue
        out = [part("display", "String", row["title"])] if row["title"] else []
        if system_version is not None:
            held = systems.version_of(graph, candidate,
                                      graph.reference.catalog().resolve(candidate.releases_of, row["release"]))
            if system_version not in (held, row["release"], row["release"].split("@", 1)[-1]):
                return [part("result", "Boolean", False),
                        part("message", "String", f"{row['code']} is in value set {vs.url}|{vs.version} as of "
                             f"{candidate.name} {held}, not {system_version}"), *out]
        if display is not None and row["title"] and display.casefold() != row["title"].casefold():
            return [part("result", "Boolean", False),
                    part("message", "String", f"{row['code']}: the display {display!r} is not {row['title']!r}"),
                    *out]
        return [part("result", "Boolean", True), *out]
    return [part("result", "Boolean", False),
            part("message", "String", f"{code!r} is not in value set {vs.url}|{vs.version}")]
