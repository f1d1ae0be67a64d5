"""``/fhir/metadata``: what this server serves, read from the release catalog at the time of asking.

The CapabilityStatement lists the resources, interactions and operations; ``?mode=terminology`` gives the
TerminologyCapabilities with exactly the code systems and versions (visible releases) loaded now.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.terminologycapabilities import TerminologyCapabilities

from codegraph import __version__
from graph_service.fhir import procedure_maps, systems
from graph_service.fhir.translate import CONVERSION_MAP, SNOMED_ICD10CM_MAP
from graph_service.graph import Graph
from graph_service.services.releases import list_releases
from graph_service.services.releases import resolve_release as current_release

FHIR_VERSION = "4.0.1"
OPERATIONS: dict[str, list[str]] = {
    "CodeSystem": ["lookup", "validate-code", "subsumes"],
    "ValueSet": ["expand", "validate-code"],
    "ConceptMap": ["translate"],
}
SEARCH_PARAMS: dict[str, list[tuple[str, str]]] = {
    "CodeSystem": [("url", "uri"), ("version", "token"), ("_id", "token")],
    "ValueSet": [("url", "uri")],
    "ConceptMap": [("url", "uri")],
}


def _op(name: str, resource: str) -> dict[str, Any]:
    return {"name": name, "definition": f"http://hl7.org/fhir/OperationDefinition/{resource}-{name}"}


def capability_statement(base: str) -> CapabilityStatement:
    resources = []
    for resource, ops in OPERATIONS.items():
        interactions = [{"code": "search-type"}] + ([{"code": "read"}] if resource == "CodeSystem" else [])
        resources.append({
            "type": resource, "interaction": interactions,
            "searchParam": [{"name": n, "type": t} for n, t in SEARCH_PARAMS.get(resource, [])] or None,
            "operation": [_op(op, resource) for op in ops],
        })
    return CapabilityStatement.model_validate({
        "resourceType": "CapabilityStatement", "status": "active", "date": datetime.now(UTC).isoformat(),
        "kind": "instance", "fhirVersion": FHIR_VERSION, "format": ["application/fhir+json"],
        "software": {"name": "codegraph", "version": __version__},
        "implementation": {"description": "codegraph FHIR R4 terminology service", "url": base},
        "instantiates": ["http://hl7.org/fhir/CapabilityStatement/terminology-server"],
        "rest": [{"mode": "server", "resource": resources,
                  "security": {"description": "an API key in the X-API-Key header (roles as for /v1)"}}],
    })


def terminology_capabilities(graph: Graph, base: str) -> TerminologyCapabilities:
    by_url: dict[str, list[dict[str, Any]]] = {}
    for cs, release in systems.served_releases(graph):
        current = current_release(graph, cs.releases_of)
        by_url.setdefault(cs.fhir_uri or "", []).append({
            "code": systems.version_of(graph, cs, release), "isDefault": release.id == current.id,
            "compositional": False, "language": ["en"],
            "filter": [{"code": "concept", "op": ["is-a", "descendent-of"]}] if cs.hierarchical else None,
            "property": ["parent", "child", "inactive", "billable"] if cs.hierarchical else ["inactive", "billable"],
        })
    maps = [SNOMED_ICD10CM_MAP] if list_releases(graph, "snomed") else []
    maps += [CONVERSION_MAP] if list_releases(graph, "icd10cm_conversion") else []
    maps += [f"procedure map {m}" for m in procedure_maps.map_ids(graph)]
    return TerminologyCapabilities.model_validate({
        "resourceType": "TerminologyCapabilities", "status": "active", "date": datetime.now(UTC).isoformat(),
        "kind": "instance", "software": {"name": "codegraph", "version": __version__},
        "implementation": {"description": "codegraph FHIR R4 terminology service", "url": base},
        "codeSearch": "all",
        "codeSystem": [{"uri": url, "version": versions, "subsumption": True} for url, versions in by_url.items()]
        or None,
        "expansion": {"hierarchical": False, "paging": True, "incomplete": False,
                      "parameter": [{"name": n} for n in ("url", "valueSetVersion", "filter", "date", "offset",
                                                          "count", "system-version", "displayLanguage")],
                      "textFilter": "every word of the filter must match a word of a title or inclusion term "
                                    "(the last as a prefix), as GET /v1/search"},
        "validateCode": {"translations": False},
        "translation": {"needsMap": False},
        "closure": {"translation": False},
        **({"description": f"ConceptMaps served: {', '.join(maps)}"} if maps else {}),
    })
