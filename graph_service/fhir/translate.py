"""ConceptMap ``$translate``: SNOMED CT → ICD-10-CM through the map's rules, and the ICD-10-CM conversion.

With patient context (``dependency`` parameters: age, age at onset, sex, co-occurring concepts) the map
is evaluated by ``services.derivation.derive_icd10cm`` — the evaluation ``POST /v1/derive/icd10cm`` runs —
and every map row comes back as a ``match`` saying whether it was selected, the rule's outcome and why;
each group is summed up in a ``map-group`` parameter (selected target, rule, needs review and why).
Without context every active row comes back with its rule, as other terminology servers answer.

Dependencies (``element`` → meaning; the value in ``concept`` or, as in R5, a ``valueQuantity`` part):
  ``http://snomed.info/id/424144002`` or ``age``: current age — Quantity in a, mo, d (or "4 months")
  ``http://snomed.info/id/445518008`` or ``age-at-onset``: age at onset, likewise
  ``http://snomed.info/id/263495000`` or ``sex``: 248152002/248153007 or administrative-gender female/male
  ``http://snomed.info/sct`` or ``concept``: a co-occurring SNOMED CT concept (subtypes count, by IS-A)
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from graph_service.errors import NotFound
from graph_service.fhir import procedure_maps, systems
from graph_service.fhir.lookup import coded_input
from graph_service.fhir.outcome import invalid, not_found, not_supported
from graph_service.fhir.params import Inputs
from graph_service.fhir.render import Part, fhir_bytes, group, parameters, part
from graph_service.graph import Graph
from graph_service.models.codes import CodeRecord
from graph_service.models.derivation import AgeIn, DeriveIcd10cmIn, MapGroupDerivation, PatientIn
from graph_service.services import codes
from graph_service.services.derivation import derive_icd10cm
from graph_service.services.releases import list_releases, resolve_release

TRANSLATE_PARAMS = frozenset({"url", "conceptMapVersion", "code", "system", "version", "coding", "codeableConcept",
                              "targetsystem", "dependency", "reverse"})
ICD10CM_URL = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED_ICD10CM_MAP = "http://snomed.info/sct?fhir_cm=6011000124106"  # the US Edition's extended map refset
CONVERSION_MAP = "http://hl7.org/fhir/sid/icd-10-cm?fhir_cm=conversion"  # CMS conversion table (REPLACED_BY)
AGE = frozenset({"http://snomed.info/id/424144002", "age"})
AGE_AT_ONSET = frozenset({"http://snomed.info/id/445518008", "age-at-onset"})
SEX = frozenset({"http://snomed.info/id/263495000", "sex"})
CONCEPT = frozenset({"http://snomed.info/sct", "concept"})
_SEX_CODES = {"248152002": "female", "248153007": "male", "female": "female", "male": "male", "unknown": "unknown"}
_UNITS = {"a": "years", "year": "years", "years": "years", "mo": "months", "month": "months", "months": "months",
          "d": "days", "day": "days", "days": "days"}
_AGE_TEXT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*")


def _age(dep: dict[str, list[Any]], element: str) -> AgeIn:
    quantity = (dep.get("valueQuantity") or dep.get("value") or [None])[0]
    if isinstance(quantity, dict) and "value" in quantity:
        number, unit = str(quantity["value"]), str(quantity.get("code") or quantity.get("unit") or "")
    else:
        concept = (dep.get("concept") or [{}])[0] or {}
        m = _AGE_TEXT.fullmatch(str(concept.get("text") or ""))
        if m is None:
            raise invalid(f"dependency {element}: an age is a Quantity (value, unit a|mo|d) or a concept text "
                          "such as '4 months'", "dependency")
        number, unit = m.group(1), m.group(2)
    if unit.lower() not in _UNITS:
        raise invalid(f"dependency {element}: age unit {unit!r} is not one of a, mo, d", "dependency")
    try:
        return AgeIn(value=Decimal(number), unit=_UNITS[unit.lower()])  # type: ignore[arg-type]
    except (ValidationError, InvalidOperation) as exc:
        raise invalid(f"dependency {element}: {exc}", "dependency") from None


def _codes_of(dep: dict[str, list[Any]]) -> list[str]:
    concept = (dep.get("concept") or [{}])[0] or {}
    return [str(c["code"]) for c in concept.get("coding") or [] if isinstance(c, dict) and c.get("code")]


def patient_context(inputs: Inputs) -> tuple[PatientIn, list[str]] | None:
    """The patient and co-occurring concepts the ``dependency`` parameters give; None when none is given."""
    deps = inputs.all("dependency")
    if not deps:
        return None
    age = onset = None
    sex = "unknown"
    others: list[str] = []
    for dep in deps:
        if not isinstance(dep, dict) or not dep.get("element"):
            raise invalid("a dependency needs an element (what it is) and a concept (its value)", "dependency")
        element = str(dep["element"][0])
        if element in AGE:
            age = _age(dep, element)
        elif element in AGE_AT_ONSET:
            onset = _age(dep, element)
        elif element in SEX:
            found = [_SEX_CODES[c] for c in _codes_of(dep) if c in _SEX_CODES]
            if not found:
                raise invalid(f"dependency {element}: sex is 248152002 | Female |, 248153007 | Male | or an "
                              "administrative-gender code", "dependency")
            sex = found[0]
        elif element in CONCEPT:
            found_codes = _codes_of(dep)
            if not found_codes:
                raise invalid(f"dependency {element}: the concept needs a SNOMED CT coding", "dependency")
            others += found_codes
        else:
            raise not_supported(f"dependency element {element!r} is not understood; served: age, age-at-onset, "
                                "sex, concept (or their SNOMED CT URIs)", "dependency")
    return PatientIn(age=age, age_at_onset=onset, sex=sex), others  # type: ignore[arg-type]


def _coding(code: str, title: str | None, version: str | None) -> dict[str, Any]:
    return {"system": ICD10CM_URL, "code": code, "version": version or None, "display": title or None}


def _match(row: dict[str, Any], title: str | None, icd_version: str | None, source: str) -> list[Part]:
    """The parts of one map row's ``match``; the caller adds what evaluation said and wraps them."""
    parts = [part("equivalence", "Code", "relatedto" if row["target"] else "unmatched")]
    if row["target"]:
        parts.append(part("concept", "Coding", _coding(row["target"], title, icd_version)))
    parts += [part("source", "Uri", source), part("group", "Integer", row["group"]),
              part("priority", "Integer", row["priority"]), part("rule", "String", row["rule"])]
    if row.get("advice"):
        parts.append(part("advice", "String", row["advice"]))
    return parts


def _icd_titles(graph: Graph) -> tuple[Any, Any]:
    """The ICD-10-CM release in force (as derivation picks it) and its table, for target titles."""
    if not list_releases(graph, "icd10cm"):
        return None, None
    release = resolve_release(graph, "icd10cm", None, None)
    return release, codes.code_table(graph, systems.BY_URL[ICD10CM_URL], release)


def _title(graph: Graph, release: Any, table: Any, code: str) -> str | None:
    if release is None:
        return None
    if table is not None:
        entry = table.entries.get(f"icd10cm|{code}")
        return entry.title if entry else None
    try:
        return codes.get_code(graph, "icd10cm", code, release.id).title
    except NotFound:
        return None


def _all_rows(graph: Graph, record: CodeRecord, source: str) -> list[Part]:
    release, table = _icd_titles(graph)
    version = release.version if release else None
    matches = [group("match", _match(r.model_dump(), _title(graph, release, table, r.target) if r.target else None,
                                     version, source)) for r in record.maps]
    with_target = sum(1 for r in record.maps if r.target)
    return [part("result", "Boolean", with_target > 0),
            part("message", "String", f"{len(record.maps)} map rows for {record.code}, {with_target} with a target; "
                 "no patient context given, so no rule was evaluated"), *matches]


def _group_summary(derived: MapGroupDerivation) -> Part:
    parts = [part("group", "Integer", derived.group), part("status", "Code", derived.status.replace("_", "-"))]
    if derived.code is not None:
        parts.append(part("concept", "Coding", _coding(derived.code.code, derived.code.title, None)))
    chosen = next((s for s in derived.explanation if s.map_rule == derived.map_rule), None)
    if chosen is not None:
        parts += [part("rule", "String", chosen.rule), part("priority", "Integer", chosen.priority)]
    if derived.advice:
        parts.append(part("advice", "String", derived.advice))
    if derived.reason:
        parts.append(part("reason", "String", derived.reason))
    parts += [part("warning", "String", w) for w in derived.warnings]
    return group("map-group", parts)


def _group_message(group: MapGroupDerivation) -> str:
    if group.status == "mapped" and group.code is not None:
        held = next(s.priority for s in group.explanation if s.map_rule == group.map_rule)
        return f"group {group.group}: {group.code.code} by priority {held}"
    if group.status == "no_target":
        return f"group {group.group}: no target (its rule held)"
    return f"group {group.group}: needs review — {group.reason}"


def _evaluated(graph: Graph, record: CodeRecord, context: tuple[PatientIn, list[str]], snomed_version: str,
               source: str) -> list[Part]:
    patient, others = context
    try:
        body = DeriveIcd10cmIn(concepts=[record.code], patient=patient, other_concepts=others, release=snomed_version)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise invalid(f"dependency: {first.get('msg', '')}", "dependency") from None
    derived = derive_icd10cm(graph, body)
    [concept] = derived.concepts
    icd_version = derived.icd10cm_release.split("@", 1)[1] if derived.icd10cm_release else None
    out: list[Part] = []
    matches: list[Part] = []
    by_group = {g.group: g for g in concept.groups}
    for row in record.maps:
        chosen = by_group.get(row.group)  # the group's outcome under the patient's context
        step = next((s for s in chosen.explanation if s.priority == row.priority), None) if chosen else None
        title = chosen.code.title if chosen and chosen.code and chosen.code.code == row.target else None
        parts = _match(row.model_dump(), title, icd_version, source)
        selected = bool(chosen and step and step.map_rule == chosen.map_rule and chosen.status != "needs_review")
        parts.append(part("selected", "Boolean", selected))
        if step is not None:
            parts += [part("outcome", "Code", step.outcome), part("why", "String", step.why)]
        elif chosen is not None and chosen.status == "needs_review":
            parts += [part("outcome", "Code", "not-evaluated"),
                      part("why", "String", f"not evaluated: {chosen.reason}")]
        elif chosen is not None:
            held = next((s.priority for s in chosen.explanation if s.outcome == "true"), None)
            parts += [part("outcome", "Code", "not-evaluated"),
                      part("why", "String", f"not evaluated: priority {held} held first")]
        matches.append(group("match", parts))
    mapped = [g for g in concept.groups if g.status == "mapped"]
    review = [g for g in concept.groups if g.status == "needs_review"]
    summary = "; ".join(_group_message(g) for g in concept.groups) or (concept.reason or "no map rows")
    out.append(part("result", "Boolean", bool(mapped) and not review))
    out.append(part("message", "String", summary))
    out += [_group_summary(g) for g in concept.groups]
    return out + matches


def _source_code(inputs: Inputs) -> tuple[str | None, str]:
    codings = inputs.codings_of_concept()
    if codings is not None:
        return codings[0].get("system"), codings[0]["code"]
    return coded_input(inputs)


def _map_version(inputs: Inputs, url: str | None) -> tuple[str | None, str | None]:
    """(map url, map version) from ``url`` — a canonical, possibly ``url|version`` — and ``conceptMapVersion``."""
    version = inputs.text("conceptMapVersion")
    if url is not None and "|" in url:
        url, _, pinned = url.partition("|")
        if version is not None and pinned and version != pinned:
            raise invalid(f"url names version {pinned!r} and conceptMapVersion {version!r}", "conceptMapVersion")
        version = version or pinned or None
    return url, version


def translate(graph: Graph, inputs: Inputs) -> bytes:
    if inputs.boolean("reverse"):
        raise not_supported("reverse translation is not served", "reverse")
    url, map_version = _map_version(inputs, inputs.text("url"))
    system_url, code = _source_code(inputs)
    target = inputs.text("targetsystem")
    if url is None:
        url = CONVERSION_MAP if (system_url or "").split("|")[0] == ICD10CM_URL else SNOMED_ICD10CM_MAP
    if url == SNOMED_ICD10CM_MAP and target and target != ICD10CM_URL:
        # Procedures: the maps loaded from FHIR ConceptMaps (SNOMED CT → CPT, HCPCS, ICD-10-PCS).
        return fhir_bytes(parameters(procedure_maps.translate(graph, inputs, code, target, None, url, map_version)))
    map_id = url.rstrip("/").rsplit("/", 1)[-1]
    if map_id in procedure_maps.map_ids(graph):
        return fhir_bytes(parameters(procedure_maps.translate(graph, inputs, code, target, map_id, url, map_version)))
    if url == SNOMED_ICD10CM_MAP:
        return fhir_bytes(parameters(_translate_snomed(graph, inputs, system_url or systems.SNOMED_URL, code, url,
                                                       map_version)))
    if url == CONVERSION_MAP:
        return fhir_bytes(parameters(_translate_conversion(graph, inputs, system_url or ICD10CM_URL, code,
                                                           map_version)))
    raise not_found(f"no ConceptMap {url!r}; served: {[SNOMED_ICD10CM_MAP, CONVERSION_MAP]}", "url")


def _translate_snomed(graph: Graph, inputs: Inputs, system_url: str, code: str, url: str,
                      map_version: str | None) -> list[Part]:
    """The map is versioned with the SNOMED CT release that carries it (its ConceptMap.version is that
    release's version URI), so ``conceptMapVersion`` and the source ``version`` name the same thing."""
    if system_url.split("|")[0] != systems.SNOMED_URL:
        raise invalid(f"{SNOMED_ICD10CM_MAP} maps SNOMED CT concepts, not {system_url} codes", "system")
    resolved = systems.resolve(graph, system_url, inputs.text("version") or map_version)
    if map_version is not None:
        by_map = systems.resolve(graph, systems.SNOMED_URL, map_version, expression="conceptMapVersion")
        if by_map.release.id != resolved.release.id:
            raise invalid(f"conceptMapVersion {map_version!r} is the map of {by_map.release.id}, but the code's "
                          f"version names {resolved.release.id}", "conceptMapVersion")
    try:
        record = codes.get_code(graph, "snomed", code, resolved.release.id)
    except NotFound as exc:
        return [part("result", "Boolean", False), part("message", "String", exc.detail)]
    context = patient_context(inputs)
    if context is None:
        return _all_rows(graph, record, url)
    return _evaluated(graph, record, context, resolved.release.id, url)


def _conversion_release(graph: Graph, map_version: str | None) -> str | None:
    """The conversion-table release ``conceptMapVersion`` names (None: every visible one)."""
    if map_version is None:
        return None
    releases = list_releases(graph, "icd10cm_conversion")
    for release in releases:
        if map_version in (release.version, release.id):
            return release.id
    raise not_found(f"no conversion table version {map_version!r}; loaded: {[r.version for r in releases]}",
                    "conceptMapVersion")


def _translate_conversion(graph: Graph, inputs: Inputs, system_url: str, code: str,
                          map_version: str | None) -> list[Part]:
    cs = systems.code_system(system_url)
    if cs.id != "icd10cm":
        raise invalid(f"{CONVERSION_MAP} converts ICD-10-CM codes, not {system_url} codes", "system")
    table_release = _conversion_release(graph, map_version)
    version = inputs.text("version")
    candidates = ([resolve_release(graph, "icd10cm", version)] if version
                  else list(reversed(list_releases(graph, "icd10cm"))))
    for release in candidates:
        try:
            record = codes.get_code(graph, "icd10cm", code, release.id)
        except NotFound:
            continue
        successors = [s for s in record.replaced_by
                      if s.get("code") and (table_release is None or s.get("release") == table_release)]
        matches = []
        for s in successors:
            target_version = str(s.get("release") or "").split("@")[-1] or None
            parts = [part("equivalence", "Code", "relatedto"),
                     part("concept", "Coding", _coding(str(s["code"]), None, target_version)),
                     part("source", "Uri", CONVERSION_MAP)]
            if s.get("basis"):
                parts.append(part("basis", "String", str(s["basis"])))
            matches.append(group("match", parts))
        message = (f"{record.code} ({release.id}) is replaced by {', '.join(str(s['code']) for s in successors)}"
                   if successors else f"{record.code} ({release.id}) has no successor in the conversion table"
                   + (f" {table_release}" if table_release else ""))
        return [part("result", "Boolean", bool(successors)), part("message", "String", message), *matches]
    where = version or "any visible release"
    return [part("result", "Boolean", False),
            part("message", "String", f"ICD-10-CM code {cs.normalise(code)!r} is not in {where}")]
