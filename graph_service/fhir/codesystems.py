"""One CodeSystem resource per visible release of a served system, and the search over them.

The resources describe (``content: not-present``): the concepts are reached through the operations.
They declare the properties ``$lookup`` returns and the filters ValueSet composition may use.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.codesystem import CodeSystem as FhirCodeSystem

from graph_service.fhir import systems
from graph_service.fhir.lookup import NOTE_PROPERTY
from graph_service.fhir.outcome import not_found
from graph_service.graph import Graph
from graph_service.models.releases import ReleaseInfo
from graph_service.services import codes
from ontology.code_systems import CodeSystem
from ontology.release_ranges import members, with_scope

PROPERTIES: list[tuple[str, str, str]] = [
    ("parent", "code", "a direct parent in the release's hierarchy"),
    ("child", "code", "a direct child in the release's hierarchy"),
    ("inactive", "boolean", "the concept is inactive in the release (SNOMED CT)"),
    ("billable", "boolean", "valid on a claim in the release"),
    ("kind", "code", "chapter, section, category, code, concept, …"),
    ("valid-from-release", "string", "the first visible release holding the code"),
    ("valid-to-release", "string", "the last visible release holding the code"),
    ("effective-from", "dateTime", "the day the first release holding the code came into force"),
    ("effective-to", "dateTime", "the day after the last release holding the code stops being in force"),
    *[(prop, "code", f"ICD-10-CM {kind} note target; the note's text in the description")
      for kind, prop in NOTE_PROPERTY.items()],
    ("note", "string", "a note of the tabular list whose target is not a code"),
    ("replaced-by", "code", "a successor in a later release (CMS conversion table)"),
]
_COUNT = f"""
{with_scope()}
{members('scope', 'c', 'm')}
RETURN count(*) AS n
"""


def resource_id(cs: CodeSystem, release: ReleaseInfo) -> str:
    return f"{cs.id}-{release.version}".replace("@", "-")


def _count(graph: Graph, cs: CodeSystem, release: ReleaseInfo) -> int:
    table = codes.code_table(graph, cs, release)
    if table is not None:
        return len(table.entries)
    row = graph.read_one(_COUNT, release=release.id)
    return int(row["n"]) if row else 0


def code_system_resource(graph: Graph, cs: CodeSystem, release: ReleaseInfo) -> FhirCodeSystem:
    body: dict[str, Any] = {
        "resourceType": "CodeSystem", "id": resource_id(cs, release), "url": cs.fhir_uri,
        "version": systems.version_of(graph, cs, release), "name": cs.name.replace("-", "").replace(" ", ""),
        "title": f"{cs.name} {release.version}", "status": "active", "experimental": False,
        "content": "not-present", "count": _count(graph, cs, release), "caseSensitive": cs.id != "icd10cm",
        "versionNeeded": False,
        "property": [{"code": c, "type": t, "description": d} for c, t, d in PROPERTIES],
    }
    if release.loaded_at is not None:
        body["date"] = release.loaded_at.isoformat()
    if release.effective_from or release.effective_to:
        window = f"in force {release.effective_from or '…'} to {release.effective_to or '…'} (exclusive)"
        body["description"] = f"{cs.name} release {release.id}, {window}"
    if cs.hierarchical:
        body["hierarchyMeaning"] = "is-a"
        body["filter"] = [{"code": "concept", "description": "is-a / descendent-of a concept of the release",
                           "operator": ["is-a", "descendent-of"], "value": "a code of the release"}]
    return FhirCodeSystem.model_validate(body)


def search(graph: Graph, url: str | None, version: str | None, id_: str | None = None) -> list[FhirCodeSystem]:
    found = []
    for cs, release in systems.served_releases(graph):
        if url and url.split("|", 1)[0] != cs.fhir_uri:
            continue
        if id_ and id_ != resource_id(cs, release):
            continue
        if version and version not in (release.version, release.id, systems.version_of(graph, cs, release)):
            continue
        found.append(code_system_resource(graph, cs, release))
    return found


def read(graph: Graph, id_: str) -> FhirCodeSystem:
    found = search(graph, None, None, id_)
    if not found:
        raise not_found(f"no CodeSystem with id {id_!r}")
    return found[0]
