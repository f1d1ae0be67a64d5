"""Read FHIR R4 ``ConceptMap`` resources (JSON, one resource or a Bundle of them) into procedure-map records.

Each resource is validated with ``fhir.resources`` (R4B models; ConceptMap is unchanged from R4) before a row
is made. A group maps one source system to one target system; an element's target keeps its ``dependsOn``
conditions (e.g. laterality ``http://snomed.info/id/272741003`` = 24028007 Right) and its ``product`` (the
modifiers the condition calls for: property ``https://codegraph.dev/fhir/modifier``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fhir.resources.R4B.conceptmap import ConceptMap
from pydantic import ValidationError

from loaders.errors import ParseError
from ontology.code_systems import SYSTEMS, CodeSystem

MODIFIER_PROPERTY = "https://codegraph.dev/fhir/modifier"
BY_URI: dict[str, CodeSystem] = {s.fhir_uri: s for s in SYSTEMS.values() if s.fhir_uri}
SOURCE_SYSTEMS = ("snomed",)
TARGET_SYSTEMS = ("cpt", "hcpcs", "icd10pcs")
# FHIR R4 ConceptMapEquivalence (the model library keeps the code as a plain string).
EQUIVALENCES = ("relatedto", "equivalent", "equal", "wider", "subsumes", "narrower", "specializes", "inexact",
                "unmatched", "disjoint")


@dataclass(frozen=True)
class Condition:
    property: str
    system: str | None
    value: str
    display: str | None


@dataclass(frozen=True)
class ProcedureMapRecord:
    map_id: str
    map_version: str | None
    source_system: str
    source_code: str
    source_display: str | None
    target_system: str
    target_code: str
    equivalence: str
    comment: str | None
    depends_on: tuple[Condition, ...]
    modifiers: tuple[str, ...]
    where: str  # the FHIR path of the target, for located errors


def _resources(path: Path) -> Iterator[tuple[str, dict]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(path, None, None, "a readable UTF-8 JSON file", str(exc)[:200]) from exc
    except json.JSONDecodeError as exc:
        raise ParseError(path, exc.lineno, None, "well-formed JSON", exc.msg) from exc
    if not isinstance(data, dict):
        raise ParseError(path, None, "resourceType", "a ConceptMap or a Bundle of ConceptMaps", type(data).__name__)
    if data.get("resourceType") == "Bundle":
        for i, entry in enumerate(data.get("entry") or []):
            yield f"Bundle.entry[{i}].resource", (entry or {}).get("resource") or {}
    else:
        yield "ConceptMap", data


def read_concept_maps(path: Path) -> list[ProcedureMapRecord]:
    """Every target of every ConceptMap in the file; a located ``ParseError`` on the first bad element."""
    out: list[ProcedureMapRecord] = []
    for base, data in _resources(path):
        if data.get("resourceType") != "ConceptMap":
            raise ParseError(path, None, f"{base}.resourceType", "ConceptMap", str(data.get("resourceType")))
        try:
            cm = ConceptMap.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise ParseError(path, None, f"{base}.{loc}", err["msg"], repr(err.get("input"))[:200]) from exc
        if not cm.id:
            raise ParseError(path, None, f"{base}.id", "an id (the map's key in the graph)")
        for g, group in enumerate(cm.group or []):
            where = f"{base}.group[{g}]"
            source, target = BY_URI.get(group.source or ""), BY_URI.get(group.target or "")
            if source is None or source.id not in SOURCE_SYSTEMS:
                raise ParseError(path, None, f"{where}.source", "http://snomed.info/sct", group.source)
            if target is None or target.id not in TARGET_SYSTEMS:
                raise ParseError(path, None, f"{where}.target", "the CPT, HCPCS or ICD-10-PCS system URI", group.target)
            for e, element in enumerate(group.element or []):
                if not element.code or not source.accepts(element.code):
                    raise ParseError(path, None, f"{where}.element[{e}].code", f"a {source.name} code", element.code)
                for t, tgt in enumerate(element.target or []):
                    at = f"{where}.element[{e}].target[{t}]"
                    if tgt.equivalence not in EQUIVALENCES:
                        raise ParseError(path, None, f"{at}.equivalence", f"one of {', '.join(EQUIVALENCES)}",
                                         tgt.equivalence)
                    if tgt.equivalence in ("unmatched", "disjoint"):
                        continue  # says there is no map; nothing to write
                    if not tgt.code or not target.accepts(tgt.code):
                        raise ParseError(path, None, f"{at}.code", f"a {target.name} code", tgt.code)
                    conditions = tuple(Condition(d.property, d.system, d.value or "", d.display)
                                       for d in tgt.dependsOn or [])
                    if bad := [c for c in conditions if not c.value]:
                        raise ParseError(path, None, f"{at}.dependsOn", "a value for every condition", bad[0].property)
                    modifiers = tuple((p.value or "").strip().upper() for p in tgt.product or []
                                      if p.property == MODIFIER_PROPERTY)
                    if bad_mod := [m for m in modifiers if len(m) != 2 or not m.isalnum()]:
                        raise ParseError(path, None, f"{at}.product", "two-character modifiers", bad_mod[0])
                    out.append(ProcedureMapRecord(
                        map_id=cm.id, map_version=cm.version, source_system=source.id,
                        source_code=source.normalise(element.code), source_display=element.display,
                        target_system=target.id, target_code=target.normalise(tgt.code),
                        equivalence=str(tgt.equivalence), comment=tgt.comment, depends_on=conditions,
                        modifiers=modifiers, where=at))
    return out
