"""The ConceptMap resources ``$translate`` serves, one per visible release of the map's source."""

from __future__ import annotations

from fhir.resources.R4B.conceptmap import ConceptMap

from graph_service.fhir import procedure_maps, systems
from graph_service.fhir.translate import CONVERSION_MAP, ICD10CM_URL, SNOMED_ICD10CM_MAP
from graph_service.graph import Graph
from graph_service.services.releases import list_releases


def concept_maps(graph: Graph, url: str | None = None) -> list[ConceptMap]:
    found = []
    snomed = systems.BY_URL[systems.SNOMED_URL]
    for release in list_releases(graph, "snomed"):
        found.append(ConceptMap.model_validate({
            "resourceType": "ConceptMap", "id": f"snomed-icd10cm-{release.version}", "url": SNOMED_ICD10CM_MAP,
            "version": systems.version_of(graph, snomed, release), "name": "SNOMEDCTToICD10CM",
            "title": f"SNOMED CT to ICD-10-CM extended map ({release.id})", "status": "active",
            "description": "map rows with rules (age, sex, co-occurring concepts); $translate evaluates them "
                           "against the patient context given as dependency parameters",
            "sourceUri": systems.SNOMED_URL, "targetUri": ICD10CM_URL}))
    for release in list_releases(graph, "icd10cm_conversion"):
        found.append(ConceptMap.model_validate({
            "resourceType": "ConceptMap", "id": f"icd10cm-conversion-{release.version}", "url": CONVERSION_MAP,
            "version": release.version, "name": "ICD10CMConversion",
            "title": f"ICD-10-CM conversion table ({release.id}): earlier codes to their successors",
            "status": "active", "sourceUri": ICD10CM_URL, "targetUri": ICD10CM_URL}))
    release = procedure_maps.loaded(graph)
    for map_id in procedure_maps.map_ids(graph):
        found.append(ConceptMap.model_validate({
            "resourceType": "ConceptMap", "id": map_id, "url": f"https://codegraph.dev/fhir/ConceptMap/{map_id}",
            "version": (release or "").split("@", 1)[-1], "status": "active", "sourceUri": systems.SNOMED_URL,
            "title": f"procedure map {map_id} ({release}): $translate checks its dependsOn conditions"}))
    return [m for m in found if url is None or m.url == url or (m.url or "").endswith(f"/{url}")]
