"""CodeSystem ``$lookup``, ``$validate-code`` and ``$subsumes``, answered by the ``/v1`` code services.

The record is ``services.codes.get_code`` (the record ``GET /v1/codes/{system}/{code}`` returns), children
are ``services.codes.navigate`` and subsumption is ``services.codes.subsumes``: the two APIs share one
reading of the release. Properties (declared on each CodeSystem resource, ``codesystems.PROPERTIES``):
parent, child, inactive, billable, kind, the validity window (first and last release holding the code
and the dates they are in force), the release's notes with their targets and text, and REPLACED_BY
successors. Inclusion terms and the SNOMED CT FSN are designations.
"""

from __future__ import annotations

from typing import Any

from graph_service.errors import NotFound
from graph_service.fhir import systems
from graph_service.fhir.outcome import invalid, required
from graph_service.fhir.params import Inputs
from graph_service.fhir.render import AnswerCache, Part, fhir_bytes, group, parameters, part
from graph_service.graph import Graph
from graph_service.models.codes import CodeRecord
from graph_service.services import codes
from ontology.code_systems import CodeSystem
from ontology.release_ranges import valid_in, with_scope
from ontology.vocabulary import L, R

LOOKUP_PARAMS = frozenset({"code", "system", "version", "coding", "date", "displayLanguage", "property"})
VALIDATE_PARAMS = frozenset({"url", "system", "code", "version", "display", "coding", "codeableConcept", "date",
                             "abstract", "displayLanguage"})
SUBSUMES_PARAMS = frozenset({"codeA", "codeB", "system", "version", "codingA", "codingB"})
NOTE_PROPERTY = {"EXCLUDES1": "excludes1", "EXCLUDES2": "excludes2", "CODE_FIRST": "code-first",
                 "USE_ADDITIONAL": "use-additional", "CODE_ALSO": "code-also"}
DESIGNATION_USE = "urn:codegraph:designation-use"  # our own small vocabulary of designation uses
SNOMED_FSN = {"system": "http://snomed.info/sct", "code": "900000000000003001", "display": "Fully specified name"}
_CHILD_LIMIT = 1000
_PARENTS = f"""
{with_scope()}
MATCH (c:{L.Code} {{key: $key}})-[e:{R.IS_A}]->(p) WHERE {valid_in('e', 'scope')}
RETURN p.code AS code ORDER BY p.code
"""
_lookups = AnswerCache()
_validations = AnswerCache()


def coded_input(inputs: Inputs, code_name: str = "code", coding_name: str = "coding",
                system_name: str = "system") -> tuple[str | None, str]:
    """(system url, code) from ``code`` + ``system`` or from a ``coding``."""
    coding = inputs.coding(coding_name)
    code = inputs.text(code_name)
    system = inputs.text(system_name)
    if coding is not None:
        if code is not None and code != coding.get("code"):
            raise invalid(f"{code_name!r} and {coding_name!r} name different codes", code_name)
        return coding.get("system") or system, coding["code"]
    if code is None:
        raise required(code_name)
    return system, code


def _window(graph: Graph, record: CodeRecord) -> list[Part]:
    catalog = {r.id: r for r in graph.reference.catalog().of()}
    first, last = catalog.get(record.valid_from or ""), catalog.get(record.valid_to or "")
    props = []
    if record.valid_from:
        props.append(_prop("valid-from-release", "String", record.valid_from))
    if record.valid_to:
        props.append(_prop("valid-to-release", "String", record.valid_to))
    if first is not None and first.effective_from:
        props.append(_prop("effective-from", "DateTime", first.effective_from.isoformat()))
    if last is not None and last.effective_to:
        props.append(_prop("effective-to", "DateTime", last.effective_to.isoformat()))
    return props


def _prop(code: str, value_type: str, value: Any, description: str | None = None) -> Part:
    parts = [part("code", "Code", code), part("value", value_type, value)]
    if description:
        parts.append(part("description", "String", description))
    return group("property", parts)


def direct_parents(graph: Graph, cs: CodeSystem, release: str, code: str) -> list[str]:
    table = codes.code_table(graph, cs, graph.reference.catalog().resolve(cs.releases_of, release))
    if table is not None:
        return sorted(table.code_of(k) for k in table.parents.get(cs.key(code), ()))
    return [r["code"] for r in graph.read(_PARENTS, key=cs.key(code), release=release)]


def lookup_parameters(graph: Graph, resolved: systems.Resolved, record: CodeRecord,
                      wanted: set[str] | None = None) -> list[Part]:
    """The $lookup out-parameters for one code record; ``wanted`` limits the properties returned."""
    cs = resolved.cs
    params: list[Part] = [part("name", "String", cs.name), part("version", "String", resolved.version),
                                    part("display", "String", record.title)]
    props: list[Part] = []
    active = record.properties.get("active")
    props.append(_prop("inactive", "Boolean", active is False))
    if record.billable is not None:
        props.append(_prop("billable", "Boolean", record.billable))
    if record.kind:
        props.append(_prop("kind", "Code", record.kind))
    if cs.hierarchical:
        props += [_prop("parent", "Code", p) for p in direct_parents(graph, cs, record.release, record.code)]
        if record.children_count:
            page = codes.navigate(graph, cs.id, record.code, "children", release=record.release, limit=_CHILD_LIMIT)
            props += [_prop("child", "Code", c.code) for c in page.items]
    props += _window(graph, record)
    props += [_prop(NOTE_PROPERTY.get(n.kind, n.kind.lower()), "Code", n.target.code, n.note) for n in record.notes]
    props += [_prop("note", "String", text) for text in record.unresolved_notes]
    props += [_prop("replaced-by", "Code", s["code"], f"{s.get('release')}: {s.get('basis')}")
              for s in record.replaced_by if s.get("code")]
    if wanted is not None:
        props = [p for p in props if p["part"][0]["valueCode"] in wanted]
    designations = [group("designation", [
        part("language", "Code", "en"), part("use", "Coding", {"system": DESIGNATION_USE, "code": "inclusion-term",
                                                               "display": "Inclusion term"}),
        part("value", "String", term)]) for term in record.inclusion_terms]
    fsn = record.properties.get("fsn")
    if fsn:
        designations.insert(0, group("designation", [
            part("language", "Code", "en"), part("use", "Coding", SNOMED_FSN), part("value", "String", fsn)]))
    return params + designations + props


def lookup(graph: Graph, inputs: Inputs) -> bytes:
    url, code = coded_input(inputs)
    inputs.display_language()
    resolved = systems.resolve(graph, url, inputs.text("version"), inputs.day("date"))
    wanted = {str(p) for p in inputs.all("property")} or None

    def build() -> bytes:
        record = codes.get_code(graph, resolved.cs.id, code, resolved.release.id)
        return fhir_bytes(parameters(lookup_parameters(graph, resolved, record, wanted)))

    table = codes.code_table(graph, resolved.cs, resolved.release)
    if table is None or wanted is not None:
        return build()
    return _lookups.get(table, resolved.release.id, resolved.cs.key(code), build)


def _is_abstract(cs: CodeSystem, record: CodeRecord) -> bool:
    """In the classifications only billable codes go on a claim: the rest (chapters, blocks, categories
    with subdivisions) are abstract for ``$validate-code``'s ``abstract=false``."""
    return cs.id in ("icd10cm", "icd10pcs") and record.billable is False


def validate(graph: Graph, inputs: Inputs) -> bytes:
    url = inputs.text("url") or inputs.text("system")
    codings = inputs.codings_of_concept()
    if codings is not None:
        coding = next((c for c in codings if not url or c.get("system") == url), codings[0])
        url, code = coding.get("system") or url, coding["code"]
    else:
        system_url, code = coded_input(inputs)
        url = url or system_url
    inputs.display_language()
    resolved = systems.resolve(graph, url, inputs.text("version"), inputs.day("date"), expression="url")
    display, abstract_ok = inputs.text("display"), inputs.boolean("abstract")

    def build() -> bytes:
        return fhir_bytes(parameters(validate_parameters(graph, resolved, code, display, abstract_ok)))

    table = codes.code_table(graph, resolved.cs, resolved.release)
    if table is None or display is not None or abstract_ok is not None:
        return build()
    return _validations.get(table, resolved.release.id, resolved.cs.key(code), build)


def validate_parameters(graph: Graph, resolved: systems.Resolved, code: str, display: str | None,
                        abstract_ok: bool | None) -> list[Part]:
    cs, rel = resolved.cs, resolved.release
    try:
        record = codes.get_code(graph, cs.id, code, rel.id)
    except NotFound:
        return [part("result", "Boolean", False),
                part("message", "String", f"{cs.normalise(code)!r} is not a code of {cs.name} {resolved.version}")]
    out = [part("display", "String", record.title)]
    if display is not None and display.casefold() != record.title.casefold():
        return [part("result", "Boolean", False),
                part("message", "String", f"{record.code}: the display {display!r} is not {record.title!r}"), *out]
    if abstract_ok is False and _is_abstract(cs, record):
        return [part("result", "Boolean", False),
                part("message", "String", f"{record.code} is not billable in {rel.id}: a more specific code is "
                     "needed"), *out]
    return [part("result", "Boolean", True), *out]


def subsumes(graph: Graph, inputs: Inputs) -> bytes:
    url_a, code_a = coded_input(inputs, "codeA", "codingA")
    url_b, code_b = coded_input(inputs, "codeB", "codingB")
    if url_a and url_b and url_a.split("|")[0] != url_b.split("|")[0]:
        raise invalid("codingA and codingB are from different code systems", "codingB")
    resolved = systems.resolve(graph, url_a or url_b, inputs.text("version"))
    if not resolved.cs.hierarchical:
        raise invalid(f"{resolved.cs.name} has no hierarchy: subsumption is not defined", "system")
    result = codes.subsumes(graph, resolved.cs.id, code_a, code_b, release=resolved.release.id)
    return fhir_bytes(parameters([part("outcome", "Code", result.outcome)]))
