"""Read FHIR R4 ``ValueSet`` resources (JSON: one resource, or a Bundle of them), or make them from the CMS
IPPS Table 6I (MCC) and 6J (CC) lists.

A resource is validated with the ``fhir.resources`` R4B model (ValueSet is unchanged from R4) and its
``compose`` reduced to what the graph can resolve: per include or exclude, one served code system (optional
version), and a concept list or ``concept`` filters with ``is-a`` / ``descendent-of``. Anything else (an
include of another value set, other filter properties or operators) is refused with its location.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir.resources.R4B.valueset import ValueSet
from pydantic import ValidationError

from loaders.errors import ParseError
from loaders.msdrg_tables.cc_lists import read_cc_list
from loaders.msdrg_tables.load import identify
from ontology.code_systems import SYSTEMS, CodeSystem

BY_URI: dict[str, CodeSystem] = {s.fhir_uri: s for s in SYSTEMS.values() if s.fhir_uri}
CMS_CC_URL = "https://www.cms.gov/medicare/payment/prospective-payment-systems/acute-inpatient-pps/msdrg-{level}"
FILTER_OPS = ("is-a", "descendent-of")


@dataclass(frozen=True)
class Selection:
    """One include or exclude: codes of one system release, listed or by filter."""

    system: str  # our system id
    version: str | None  # release version, if the resource pins one
    concepts: tuple[str, ...]
    filters: tuple[tuple[str, str], ...]  # (op, code)
    where: str  # e.g. "compose.include[0]", for messages


@dataclass(frozen=True)
class ValueSetRecord:
    url: str
    version: str
    name: str | None
    title: str | None
    status: str
    includes: tuple[Selection, ...]
    excludes: tuple[Selection, ...]
    resource: dict[str, Any]  # as given (with compose), kept on the node
    file: Path


def _selection(path: Path, where: str, item: dict[str, Any]) -> Selection:
    if item.get("valueSet"):
        raise ParseError(path, None, f"{where}.valueSet", "codes of a code system (including another value set "
                         "is not served)", str(item["valueSet"]))
    uri = item.get("system")
    cs = BY_URI.get(uri or "")
    if cs is None:
        raise ParseError(path, None, f"{where}.system", f"one of {sorted(BY_URI)}", uri)
    concepts = tuple(str(c["code"]) for c in item.get("concept") or [])
    filters: list[tuple[str, str]] = []
    for i, f in enumerate(item.get("filter") or []):
        if f.get("property") != "concept" or f.get("op") not in FILTER_OPS:
            raise ParseError(path, None, f"{where}.filter[{i}]", "property 'concept' with op is-a or descendent-of",
                             f"{f.get('property')} {f.get('op')}")
        if not cs.hierarchical:
            raise ParseError(path, None, f"{where}.filter[{i}]", f"a hierarchical system ({cs.name} has none)", uri)
        filters.append((f["op"], cs.normalise(str(f["value"]))))
    if not concepts and not filters:
        raise ParseError(path, None, where, "a concept list or a filter (a whole code system is the implicit "
                         "value set <system>?fhir_vs)", None)
    return Selection(cs.id, item.get("version"), tuple(cs.normalise(c) for c in concepts), tuple(filters), where)


def _record(path: Path, body: dict[str, Any], where: str) -> ValueSetRecord:
    try:
        ValueSet.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ParseError(path, None, f"{where}.{'.'.join(str(p) for p in first.get('loc', ()))}",
                         "a valid R4 ValueSet", first.get("msg")) from None
    for field in ("url", "version"):
        if not body.get(field):
            raise ParseError(path, None, f"{where}.{field}", f"a ValueSet {field} (value sets are stored by url and "
                             "version)", None)
    compose = body.get("compose") or {}
    if not compose.get("include"):
        raise ParseError(path, None, f"{where}.compose.include", "at least one include", None)
    return ValueSetRecord(
        url=body["url"], version=body["version"], name=body.get("name"), title=body.get("title"),
        status=body.get("status", "active"),
        includes=tuple(_selection(path, f"{where}.compose.include[{i}]", item)
                       for i, item in enumerate(compose["include"])),
        excludes=tuple(_selection(path, f"{where}.compose.exclude[{i}]", item)
                       for i, item in enumerate(compose.get("exclude") or [])),
        resource=body, file=path)


def cms_cc_value_set(path: Path, fiscal_year: str) -> dict[str, Any]:
    """Table 6I or 6J as a ValueSet resource: the codes listed, in the ICD-10-CM release of that fiscal year."""
    entries = list(read_cc_list(path))
    level = entries[0].level if entries else "CC"
    return {
        "resourceType": "ValueSet", "url": CMS_CC_URL.format(level=level.lower()), "version": fiscal_year,
        "name": f"MSDRG{level}List", "title": f"MS-DRG {level} list, {fiscal_year} (IPPS Table "
                                                 f"{'6I' if level == 'MCC' else '6J'})",
        "status": "active", "publisher": "CMS",
        "compose": {"include": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "version": fiscal_year,
                                 "concept": [{"code": e.code, "display": e.description} for e in entries]}]},
    }


def read_value_sets(path: Path, version: str) -> Iterator[ValueSetRecord]:
    """Every ValueSet of a JSON file (a resource or a Bundle), or the one a CMS Table 6I/6J file makes."""
    if path.suffix.lower() != ".json":
        if identify(path) not in ("6I", "6J"):
            raise ParseError(path, 1, None, "a FHIR ValueSet or Bundle (.json), or IPPS Table 6I or 6J", path.name)
        yield _record(path, cms_cc_value_set(path, version), "ValueSet")
        return
    try:
        body = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(path, None, None, "a FHIR ValueSet or Bundle as JSON", str(exc)[:200]) from None
    if not isinstance(body, dict):
        raise ParseError(path, None, "resourceType", "ValueSet or Bundle", type(body).__name__)
    if body.get("resourceType") == "Bundle":
        for i, entry in enumerate(body.get("entry") or []):
            resource = (entry or {}).get("resource") or {}
            if resource.get("resourceType") != "ValueSet":
                raise ParseError(path, None, f"Bundle.entry[{i}].resource.resourceType", "ValueSet",
                                 resource.get("resourceType"))
            yield _record(path, resource, f"Bundle.entry[{i}].resource")
        return
    if body.get("resourceType") != "ValueSet":
        raise ParseError(path, None, "resourceType", "ValueSet or Bundle", body.get("resourceType"))
    yield _record(path, body, "ValueSet")
