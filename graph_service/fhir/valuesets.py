"""ValueSet ``$expand`` / ``$validate-code``: implicit value sets, and the stored ones (``stored_valuesets``).

``<system url>?fhir_vs`` is every code of a release; ``<system url>?fhir_vs=isa/<code>`` a code and its
descendants (a SNOMED CT concept's subtypes; an ICD-10-CM chapter ``CH09``, block ``I20-I25`` or category
subtree). Members come from ``services.codes`` (the in-memory release table, or ``navigate`` on the graph
for SNOMED CT); ``filter`` runs ``services.search.search_codes`` — the full-text index ``/v1/search``
uses — and keeps the hits that are members, in its ranking.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fhir.resources.R4B.valueset import ValueSet

from graph_service.errors import NotFound
from graph_service.fhir import stored_valuesets, systems
from graph_service.fhir.lookup import coded_input, validate_parameters
from graph_service.fhir.outcome import invalid, not_found, required
from graph_service.fhir.params import Inputs
from graph_service.fhir.render import AnswerCache, Checked, Part, checked, fhir_bytes, parameters, part
from graph_service.fhir.render import timestamp as _now
from graph_service.graph import Graph
from graph_service.reference.code_table import CodeTable
from graph_service.services import codes
from graph_service.services.search import search_codes
from ontology.release_ranges import members, with_scope

EXPAND_PARAMS = frozenset({"url", "valueSetVersion", "filter", "date", "offset", "count", "system-version",
                           "displayLanguage"})
VALIDATE_PARAMS = frozenset({"url", "valueSetVersion", "code", "system", "systemVersion", "display", "coding",
                             "codeableConcept", "date", "abstract", "system-version", "displayLanguage"})
DEFAULT_COUNT, MAX_COUNT = 100, 1000
MAX_OFFSET = 2**31 - 1  # FHIR's integer; beyond it the graph's paging (SKIP, list slices) would overflow
_SEARCH_ALL = 1_000_000
_ALL_PAGE = f"""
{with_scope()}
{members('scope', 'c', 'm')}
WITH c, m ORDER BY c.code
WITH collect({{code: c.code, title: m.title, kind: m.kind}}) AS members
RETURN size(members) AS total, members[$offset..$offset + $count] AS items
"""
_pages = AnswerCache()
_all_codes: dict[str, tuple[CodeTable, tuple[str, ...]]] = {}


@dataclass(frozen=True)
class Implicit:
    url: str  # as asked, without a version
    resolved: systems.Resolved
    root: str | None  # isa/<root>, or None for every code


def _system_version(inputs: Inputs, system_url: str) -> str | None:
    """``system-version`` is ``canonical|version`` (repeatable, one per system)."""
    for value in inputs.all("system-version"):
        canonical, _, version = str(value).partition("|")
        if canonical == system_url and version:
            return version
    return None


def implicit(graph: Graph, inputs: Inputs, url: str) -> Implicit:
    base, sep, query = url.partition("?")
    if not sep or not (query == "fhir_vs" or query.startswith("fhir_vs=")):
        raise not_found(f"no value set {url!r}: implicit value sets are <system>?fhir_vs or "
                        "<system>?fhir_vs=isa/<code>", "url")
    version = inputs.text("valueSetVersion")
    if base.startswith(systems.SNOMED_URL + "/"):
        version = version or base  # an edition/version URI names the release
        base = systems.SNOMED_URL
    # What else names the release when the value set's version does not: system-version ($expand) or
    # systemVersion ($validate-code, the version of the code's system).
    version = version or _system_version(inputs, base) or inputs.text("systemVersion")
    resolved = systems.resolve(graph, base, version, inputs.day("date"), expression="url")
    root = None
    if query.startswith("fhir_vs="):
        kind, _, root = query[len("fhir_vs="):].partition("/")
        if kind != "isa" or not root:
            raise invalid(f"value set {url!r}: served implicit forms are ?fhir_vs and ?fhir_vs=isa/<code>", "url")
        if not resolved.cs.hierarchical:
            raise invalid(f"{resolved.cs.name} has no hierarchy: ?fhir_vs=isa is not defined for it", "url")
        root = resolved.cs.normalise(root)
    return Implicit(base + "?" + query, resolved, root)


def _all_sorted(table: CodeTable) -> tuple[str, ...]:
    held = _all_codes.get(table.release)
    if held is None or held[0] is not table:
        held = _all_codes[table.release] = (table, tuple(sorted(table.entries, key=table.code_of)))
    return held[1]


def _members_from_table(vs: Implicit, table: CodeTable) -> list[str] | tuple[str, ...]:
    cs = vs.resolved.cs
    if vs.root is None:
        return _all_sorted(table)
    key = cs.key(vs.root)
    if key not in table.entries:
        raise not_found(f"{cs.name} code {vs.root!r} is not in release {vs.resolved.release.id}", "url")
    return [key, *table.descendants(key)]


def _contains(vs: Implicit, code: str, display: str | None, kind: str | None) -> Part:
    # A chapter or section is a grouping of the classification, not a code: abstract.
    return {"system": vs.resolved.cs.fhir_uri, "version": vs.resolved.version, "code": code, "display": display or None,
            "abstract": True if kind in ("chapter", "section") else None}


def _page(graph: Graph, vs: Implicit, offset: int, count: int) -> tuple[int, list[Part]]:
    cs, rel = vs.resolved.cs, vs.resolved.release
    table = codes.code_table(graph, cs, rel)
    if table is not None:
        keys = _members_from_table(vs, table)
        page = [table.entries[k] for k in keys[offset:offset + count]]
        return len(keys), [_contains(vs, e.code, e.title, e.kind) for e in page]
    if vs.root is None:
        row = graph.read_one(_ALL_PAGE, release=rel.id, offset=offset, count=count)
        items = row["items"] if row else []
        return (row["total"] if row else 0), [_contains(vs, i["code"], i["title"], i["kind"]) for i in items]
    try:
        root = codes.get_code(graph, cs.id, vs.root, rel.id)
    except NotFound as exc:
        raise not_found(exc.detail, "url") from None
    # The root first, then its descendants as ``navigate`` pages them (by code).
    items = [_contains(vs, root.code, root.title, root.kind)] if offset == 0 and count > 0 else []
    wanted = count - len(items)
    below = codes.navigate(graph, cs.id, vs.root, "descendants", release=rel.id, offset=max(0, offset - 1),
                           limit=max(1, wanted))
    items += [_contains(vs, i.code, i.title, None) for i in below.items[:wanted]]
    return 1 + below.total, items


def _filtered(graph: Graph, vs: Implicit, text: str, offset: int, count: int
              ) -> tuple[int, list[Part]]:
    cs, rel = vs.resolved.cs, vs.resolved.release
    hits = search_codes(graph, text, cs.id, rel.id, 0, _SEARCH_ALL).items
    if vs.root is not None:
        table = codes.code_table(graph, cs, rel)
        if table is not None:
            members = set(_members_from_table(vs, table))
        else:
            below = codes.navigate(graph, cs.id, vs.root, "descendants", release=rel.id, limit=_SEARCH_ALL)
            members = {cs.key(vs.root), *(cs.key(i.code) for i in below.items)}
        hits = [h for h in hits if cs.key(h.code) in members]
    return len(hits), [_contains(vs, h.code, h.title, h.kind) for h in hits[offset:offset + count]]


def _expansion(vs: Implicit, total: int, offset: int, count: int, contains: list[Part],
               text: str | None) -> Checked:
    used = [{"name": "offset", "valueInteger": offset}, {"name": "count", "valueInteger": count},
            {"name": "version", "valueUri": f"{vs.resolved.cs.fhir_uri}|{vs.resolved.version}"}]
    if text:
        used.append({"name": "filter", "valueString": text})
    return checked(ValueSet, {
        "resourceType": "ValueSet", "url": vs.url, "version": vs.resolved.version, "status": "active",
        "name": vs.resolved.cs.name.replace("-", "").replace(" ", ""),
        "expansion": {"identifier": f"urn:uuid:{uuid.uuid4()}", "timestamp": _now(),
                      "total": total, "offset": offset, "parameter": used, "contains": contains or None},
    })


def expand(graph: Graph, inputs: Inputs) -> bytes:
    url = inputs.text("url")
    if url is None:
        raise required("url")
    offset = inputs.integer("offset", maximum=MAX_OFFSET) or 0
    count = inputs.integer("count", maximum=MAX_COUNT)
    count = DEFAULT_COUNT if count is None else count
    text = inputs.text("filter")
    inputs.display_language()
    if "?fhir_vs" not in url:
        stored = stored_valuesets.find(graph, url, inputs.text("valueSetVersion"))
        if stored is not None:
            return fhir_bytes(stored_valuesets.expansion(graph, stored, offset, count, text))
    vs = implicit(graph, inputs, url)

    def build() -> bytes:
        total, contains = _filtered(graph, vs, text, offset, count) if text else _page(graph, vs, offset, count)
        return fhir_bytes(_expansion(vs, total, offset, count, contains, text))

    table = codes.code_table(graph, vs.resolved.cs, vs.resolved.release)
    if table is None or text:
        return build()
    return _pages.get(table, vs.resolved.release.id, (vs.url, offset, count), build)


def validate(graph: Graph, inputs: Inputs) -> bytes:
    url = inputs.text("url")
    if url is None:
        raise required("url")
    codings = inputs.codings_of_concept()
    if codings is not None:
        system_url, code = codings[0].get("system"), codings[0]["code"]
    else:
        system_url, code = coded_input(inputs)
    inputs.display_language()
    system_version = inputs.text("systemVersion")
    if "?fhir_vs" not in url:
        stored = stored_valuesets.find(graph, url, inputs.text("valueSetVersion"))
        if stored is not None:
            return fhir_bytes(parameters(stored_valuesets.validate(graph, stored, system_url, code,
                                                                   inputs.text("display"), system_version)))
    vs = implicit(graph, inputs, url)
    if system_url and system_url.split("|")[0] != vs.resolved.cs.fhir_uri:
        return fhir_bytes(parameters([part("result", "Boolean", False), part(
            "message", "String", f"value set {url!r} holds {vs.resolved.cs.fhir_uri} codes, not {system_url} codes")]))
    if system_version is not None:
        named = systems.resolve(graph, vs.resolved.cs.fhir_uri, system_version, expression="systemVersion")
        if named.release.id != vs.resolved.release.id:
            raise invalid(f"systemVersion {system_version!r} names {named.release.id}, but the value set {url!r} is "
                          f"expanded from {vs.resolved.release.id}", "systemVersion")
    out = validate_parameters(graph, vs.resolved, code, inputs.text("display"), inputs.boolean("abstract"))
    if out[0]["valueBoolean"] and vs.root is not None:
        cs, rel = vs.resolved.cs, vs.resolved.release
        try:
            outcome = codes.subsumes(graph, cs.id, vs.root, code, release=rel.id).outcome
        except NotFound as exc:
            raise not_found(exc.detail, "url") from None
        if outcome not in ("equivalent", "subsumes"):
            out = [part("result", "Boolean", False),
                   part("message", "String", f"{cs.normalise(code)} is not {vs.root} or a descendant of it in "
                        f"{rel.id}"), *out[1:]]
    return fhir_bytes(parameters(out))
