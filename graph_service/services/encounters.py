"""Loading one FHIR Bundle through the API: parsed and checked first, then written as its own batch release.

The bundle goes through the FHIR loader and the shared load machinery (LoadRun provenance, staging
release, promotion) exactly as ``codegraph load fhir`` would take it; an invalid bundle is refused before
anything is written. Its release is ``fhir@api-<digest of the bundle>``, so posting the same bundle again
loads nothing new and answers with the same ids.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from codegraph.settings import Settings
from graph_service.errors import Unprocessable
from graph_service.graph import Graph
from graph_service.models.encounters import EncountersLoadedOut, FhirIssueOut, LoadedEncounter
from loaders.errors import ParseError
from loaders.fhir.bundle import parse_fhir_source
from loaders.fhir.graph_codes import check_fhir_codes
from loaders.fhir.issues import FhirIssue, FhirLocation, FhirValidationError
from loaders.fhir.load import FhirLoader
from loaders.fhir.records import EncounterBundle
from loaders.machinery.pipeline import run_load
from loaders.machinery.runs import ReleaseSpec


def _issue(issue: FhirIssue) -> dict[str, Any]:
    where = issue.location
    return FhirIssueOut(entry=where.entry, path=where.path, reason=issue.reason, found=issue.found).model_dump()


def _refuse(issues: list[FhirIssue]) -> Unprocessable:
    listed = "; ".join(f"{i.location.path}: {i.reason}" + (f" (found {i.found!r})" if i.found else "")
                       for i in issues[:5])
    more = f"; and {len(issues) - 5} more" if len(issues) > 5 else ""
    return Unprocessable(f"the FHIR Bundle has {len(issues)} problem{'s' if len(issues) != 1 else ''}: {listed}{more}",
                         extra={"issues": [_issue(i) for i in issues]})


def _parse(graph: Graph, path: Path) -> tuple[EncounterBundle, dict[str, int]]:
    try:
        parsed = parse_fhir_source(path, date.today())
        warnings = check_fhir_codes(graph.driver, graph.database, path, parsed)
    except FhirValidationError as exc:
        raise _refuse(list(exc.issues)) from exc
    except ParseError as exc:  # not a Bundle, or a Bundle type that carries no resources
        raise _refuse([FhirIssue(FhirLocation(exc.file, None, None, exc.field or "Bundle"), exc.expected,
                                 exc.found)]) from exc
    if not parsed.encounters:
        raise Unprocessable("the FHIR Bundle holds no Encounter; nothing to load",
                            extra={"issues": [FhirIssueOut(entry=None, path="Bundle.entry", found=None,
                                                           reason="at least one Encounter resource").model_dump()]})
    return parsed, dict(warnings)


def load_encounter_bundle(graph: Graph, settings: Settings, bundle: dict[str, Any]) -> EncountersLoadedOut:
    """Load a FHIR Bundle whole or not at all; the encounters with their evidence ids."""
    raw = json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    with tempfile.TemporaryDirectory(prefix="codegraph-fhir-") as tmp:
        path = Path(tmp) / f"bundle-{digest}.json"
        path.write_bytes(raw)
        parsed, warnings = _parse(graph, path)
        report = run_load(graph.driver, graph.database, FhirLoader({path: parsed}), [path],
                          ReleaseSpec("fhir", f"api-{digest}"), batch_size=settings.batch_size)
    documents: dict[str | None, list[str]] = defaultdict(list)
    for d in parsed.documents:
        documents[d.encounter_id].append(d.id)
    evidence: dict[str | None, list[str]] = defaultdict(list)
    for x in parsed.evidence:
        evidence[x.encounter_id].append(x.id)
    counts = {k: v for k, v in report.counts.items() if isinstance(v, int) and not k.startswith("codes_")
              and k not in {"rows", "nodes_created", "relationships_created", "properties_set", "shards"}}
    return EncountersLoadedOut(
        release=report.release, load_run=report.run_id, counts=counts, nodes_created=report.stats.nodes_created,
        warnings=warnings,
        encounters=[LoadedEncounter(id=e.id, patient=e.patient_id or None, payer=e.payer_id,
                                    documents=documents[e.id], evidence=sorted(evidence[e.id]))
                    for e in parsed.encounters],
    )
