"""The ConceptMap resources ``$translate`` serves, one per visible release of the map's source."""

from __future__ import annotations

from fhir.resources.R4B.conceptmap import ConceptMap

from graph_service.fhir import systems
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
    return [m for m in found if url is None or m.url == url]
