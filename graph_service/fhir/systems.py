"""Which code system and release a FHIR ``system``/``version`` pair names.

Canonical URLs are the ones ``ontology.code_systems`` declares (``http://hl7.org/fhir/sid/icd-10-cm``, …).
A version is our release version (``FY2026``, ``2024Q1``, ``20250301``) or the release id; for SNOMED CT
also the edition version URI ``http://snomed.info/sct/<module>/version/<yyyymmdd>``, which is also what
CodeSystem.version says for SNOMED CT (the module is read from the release's RF2 file names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from graph_service.fhir.outcome import not_found, required
from graph_service.graph import Graph
from graph_service.models.releases import ReleaseInfo
from graph_service.services.releases import resolve_release
from ontology.code_systems import SYSTEMS, CodeSystem
from ontology.vocabulary import L

BY_URL: dict[str, CodeSystem] = {cs.fhir_uri: cs for cs in SYSTEMS.values() if cs.fhir_uri}
SNOMED_URL = "http://snomed.info/sct"
_SNOMED_VERSION = re.compile(r"http://snomed\.info/sct/(\d+)(?:/version/(\d{8}))?")
# RF2 file-name namespace → edition module: the US Edition and the International Edition.
_EDITION_MODULES = {"US1000124": "731000124108", "INT": "900000000000207008"}
_RUN_FILES = f"""
MATCH (:{L.Release} {{id: $release}})-[:PRODUCED_BY]->(run:{L.LoadRun})
RETURN run.source_files AS files ORDER BY run.finished_at DESC LIMIT 1
"""
_modules: dict[tuple[str, str | None], str | None] = {}


@dataclass(frozen=True)
class Resolved:
    cs: CodeSystem
    release: ReleaseInfo
    version: str  # CodeSystem.version as this server writes it


def code_system(url: str | None, expression: str = "system") -> CodeSystem:
    if not url:
        raise required(expression)
    cs = BY_URL.get(url.split("|", 1)[0])
    if cs is None:
        raise not_found(f"code system {url!r} is not served here; served: {sorted(BY_URL)}", expression)
    return cs


def snomed_module(graph: Graph, release: ReleaseInfo) -> str | None:
    """The edition module of a SNOMED CT release, from the namespace in its RF2 file names."""
    cache_key = (release.id, release.load_run)
    if cache_key not in _modules:
        row = graph.read_one(_RUN_FILES, release=release.id)
        names = " ".join(row["files"] or []) if row else ""
        _modules[cache_key] = next((m for ns, m in _EDITION_MODULES.items() if f"_{ns}_" in names), None)
    return _modules[cache_key]


def version_of(graph: Graph, cs: CodeSystem, release: ReleaseInfo) -> str:
    if cs.id == "snomed":
        module = snomed_module(graph, release)
        if module:
            return f"{SNOMED_URL}/{module}/version/{release.version}"
    return release.version


def _release_version(cs: CodeSystem, version: str) -> str:
    """A FHIR version string → our release version (SNOMED CT version URIs to their date)."""
    if cs.id == "snomed" and (m := _SNOMED_VERSION.fullmatch(version)):
        if m.group(2) is None:
            raise not_found(f"SNOMED CT version {version!r} names an edition but no version date", "version")
        return m.group(2)
    return version


def resolve(graph: Graph, url: str | None, version: str | None = None, on: date | None = None,
            expression: str = "system") -> Resolved:
    """The release ``url``/``version`` names, or the one in force on ``on``, or the current one."""
    cs = code_system(url, expression)
    if version is None and url and "|" in url:
        version = url.split("|", 1)[1] or None
    release = resolve_release(graph, cs.releases_of, _release_version(cs, version) if version else None, on)
    return Resolved(cs, release, version_of(graph, cs, release))


def served_releases(graph: Graph) -> list[tuple[CodeSystem, ReleaseInfo]]:
    """Every visible release of a system with a FHIR URL, in the catalog's order."""
    catalog = graph.reference.catalog()
    return [(cs, rel) for cs in BY_URL.values() if cs.release_system is None for rel in catalog.of(cs.id)]
