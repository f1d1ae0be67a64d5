"""``$translate`` over the procedure maps loaded from FHIR ConceptMaps (``codegraph load procedure_maps``):
SNOMED CT procedures → CPT, HCPCS or ICD-10-PCS, each target with its ``dependsOn`` conditions.

Given ``dependency`` parameters (``element`` = the condition's property, ``concept`` = its value, e.g.
laterality 272741003 = 24028007 Right) a target is selected when every condition it depends on is given;
without them every target comes back with its conditions, for the caller to choose.
"""

from __future__ import annotations

import json

from graph_service.fhir import systems
from graph_service.fhir.outcome import invalid, not_found, not_supported
from graph_service.fhir.params import Inputs
from graph_service.fhir.render import Part, group, part
from graph_service.graph import Graph
from graph_service.services.releases import list_releases
from ontology.code_systems import SYSTEMS
from ontology.vocabulary import L, R

SOURCE = "procedure_maps"
MODIFIER = "https://codegraph.dev/fhir/modifier"
_ROWS = f"""
MATCH (:{L.Code} {{key: $key}})-[:{R.HAS_PROCEDURE_MAP} {{release: $release}}]->(m:{L.ProcedureMap})
      -[:{R.PROCEDURE_MAPS_TO} {{release: $release}}]->(t:{L.Code})
WHERE ($target IS NULL OR t.system = $target) AND ($map_id IS NULL OR m.map_id = $map_id)
RETURN m.map_id AS map_id, m.equivalence AS equivalence, m.comment AS comment, m.modifiers AS modifiers,
       m.depends_on AS depends_on, t.system AS system, t.code AS code
ORDER BY t.system, t.code, m.key
"""
_MAP_IDS = f"MATCH (m:{L.ProcedureMap}) WHERE m.release = $release RETURN DISTINCT m.map_id AS map_id"


def loaded(graph: Graph, version: str | None = None) -> str | None:
    """The procedure-map release ``version`` names (a ConceptMap.version: the release's version), else the
    newest visible one; None if none is loaded."""
    releases = list_releases(graph, SOURCE)
    if version is None:
        return releases[-1].id if releases else None
    for release in releases:
        if version in (release.version, release.id):
            return release.id
    if releases:
        raise not_found(f"no procedure map version {version!r}; loaded: {[r.version for r in releases]}",
                        "conceptMapVersion")
    return None


def map_ids(graph: Graph) -> list[str]:
    """The map ids of the newest procedure-map release."""
    release = loaded(graph)
    return [] if release is None else [r["map_id"] for r in graph.read(_MAP_IDS, release=release)]


def _given(inputs: Inputs) -> dict[str, set[str]]:
    given: dict[str, set[str]] = {}
    for dep in inputs.all("dependency"):
        if not isinstance(dep, dict) or not dep.get("element"):
            raise invalid("a dependency needs an element (the condition's property) and a concept", "dependency")
        concept = (dep.get("concept") or [{}])[0] or {}
        values = {str(c["code"]) for c in concept.get("coding") or [] if isinstance(c, dict) and c.get("code")}
        if not values:
            raise invalid(f"dependency {dep['element'][0]}: the concept needs a coding", "dependency")
        given.setdefault(str(dep["element"][0]), set()).update(values)
    return given


def translate(graph: Graph, inputs: Inputs, code: str, target_url: str | None, map_id: str | None,
              url: str, version: str | None = None) -> list[Part]:
    release = loaded(graph, version)
    if release is None:
        raise not_supported("no procedure map is loaded (codegraph load procedure_maps)", "targetsystem")
    target = systems.code_system(target_url, "targetsystem").id if target_url else None
    snomed = SYSTEMS["snomed"]
    given = _given(inputs)
    matches = []
    chosen = 0
    for row in graph.read(_ROWS, key=snomed.key(code), release=release, target=target, map_id=map_id):
        conditions = json.loads(row["depends_on"] or "[]")
        unmet = [c for c in conditions if c["value"] not in given.get(c["property"], set())]
        parts = [part("equivalence", "Code", row["equivalence"] or "relatedto"),
                 part("concept", "Coding", {"system": SYSTEMS[row["system"]].fhir_uri, "code": row["code"]}),
                 part("source", "Uri", url)]
        parts += [group("product", [part("element", "Uri", MODIFIER),
                                    part("concept", "Coding", {"system": MODIFIER, "code": m})])
                  for m in row["modifiers"] or []]
        parts += [part("depends-on", "String", f"{c['property']} = {c['value']}"
                       + (f" ({c['display']})" if c.get("display") else "")) for c in conditions]
        if row["comment"]:
            parts.append(part("comment", "String", row["comment"]))
        if given:
            selected = not unmet
            chosen += selected
            why = "every condition is given" if selected else "not given: " + ", ".join(
                f"{c['property']} = {c['value']}" for c in unmet)
            parts += [part("selected", "Boolean", selected), part("why", "String", why)]
        matches.append(group("match", parts))
    if not matches:
        return [part("result", "Boolean", False),
                part("message", "String", f"no procedure map row for {code} in {release}")]
    message = (f"{chosen} of {len(matches)} targets meet the dependencies given" if given else
               f"{len(matches)} targets in {release}; no dependency given, so no condition was checked")
    return [part("result", "Boolean", chosen > 0 if given else True), part("message", "String", message), *matches]
