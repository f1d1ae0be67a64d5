"""What the published OpenAPI schema says about each ``/fhir`` operation's inputs, from one table.

The routes read FHIR's inputs themselves (``params``: repeated and aliased query parameters, a ``Parameters``
body), so FastAPI sees none of them; this module states them for the schema only (``openapi_extra``) and
changes nothing in how a request is parsed. Each GET form declares the query parameters of its primary form
with the shapes the service checks; what OpenAPI cannot say (an alternative form such as ``system`` for
``url``, a rule across parameters) is written in the parameter's description. A POST body is a FHIR
``Parameters`` resource whose items are the operation's parameters with the value type each is read as.

Only constraints the service enforces are declared (a request outside them is refused: 400 or 404), and every
request inside them is answered 200, or 404 when what it names is not loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from graph_service.fhir.outcome import FHIR_JSON
from graph_service.fhir.systems import BY_URL, SNOMED_URL
from graph_service.fhir.translate import CONVERSION_MAP, ICD10CM_URL, SNOMED_ICD10CM_MAP
from graph_service.fhir.valuesets import MAX_COUNT, MAX_OFFSET

SYSTEM_URLS = sorted(BY_URL)
HIERARCHICAL_URLS = sorted(url for url, cs in BY_URL.items() if cs.hierarchical)
# The service strips a value and refuses a blank one, by Python's notion of whitespace: JSON Schema's (ECMA) \s
# lacks U+001C–U+001F and U+0085, so those count as blank here too.
_NOT_BLANK = r"[^\s\u001c-\u001f\u0085]"
_TEXT = {"type": "string", "pattern": _NOT_BLANK}
_DATE = {"type": "string", "format": "date"}
_CODE = {"type": "string", "pattern": _NOT_BLANK}
_ROOT = r"[A-Za-z0-9][A-Za-z0-9.\-]*"


def _alternatives(urls: list[str]) -> str:
    # Escaped by hand: re.escape also escapes "-", which ECMA-262 patterns (JSON Schema's) refuse outside a class.
    return "|".join(re.sub(r"([.?*+|()\[\]{}^$\\])", r"\\\1", u) for u in urls)


# A stored value set's canonical URL (no query part), or an implicit value set of a served system.
VALUE_SET_URL = {"type": "string", "pattern": rf"^(?:[^?\s][^?]*|(?:{_alternatives(SYSTEM_URLS)})\?fhir_vs|"
                                              rf"(?:{_alternatives(HIERARCHICAL_URLS)})\?fhir_vs=isa/{_ROOT})$"}


@dataclass(frozen=True)
class Param:
    """One input parameter: its schema in the query string (None: not in the GET form) and in a body."""

    name: str
    schema: dict[str, Any] | None
    description: str
    required: bool = False
    repeats: bool = False
    value: str = "valueString"  # the value[x] it is read from in a Parameters body
    body_schema: dict[str, Any] = field(default_factory=dict)


def _system(description: str, urls: list[str] = SYSTEM_URLS, *, required: bool = False, name: str = "system"
            ) -> Param:
    return Param(name, {"type": "string", "enum": urls}, description, required, value="valueUri")


def _code(name: str = "code", description: str = "the code (unknown: 404, or result false where validating)",
          *, required: bool = True) -> Param:
    return Param(name, _CODE, description, required, value="valueCode")


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}  # the Parameters model reads an element given as null as absent


_CODING = {"type": "object", "required": ["code"], "properties": {
    "system": _or_null({"type": "string", "enum": SYSTEM_URLS}), "version": _or_null(_TEXT),
    "code": {"type": "string", "pattern": r"^\S+$"}, "display": _or_null(_TEXT)}}
_CONCEPT = {"type": "object", "required": ["coding"], "properties": {
    "coding": {"type": "array", "minItems": 1, "items": _CODING}, "text": _or_null(_TEXT)}}


def _coding(name: str, instead: str) -> Param:
    return Param(name, None, f"a Coding instead of {instead} (POST only)", value="valueCoding", body_schema=_CODING)


_VERSION = Param("version", _TEXT, "the code system version: our release version (FY2026, 2024Q1, 20250301), the "
                 "release id, or for SNOMED CT an edition version URI; not loaded: 404")
_DATE_PARAM = Param("date", _DATE, "the release in force on this date (a dateTime is read as its day); none: 404",
                    value="valueDateTime")
_LANGUAGE = Param("displayLanguage", {"type": "string", "pattern": r"^[Ee][Nn](-.*)?$"},
                  "displays and designations are English: en (any region); any other language is refused (400 "
                  "not-supported)", value="valueCode")
_DISPLAY = Param("display", _TEXT, "the display to check (case-insensitive); another: result false")
_ABSTRACT = Param("abstract", {"type": "boolean"}, "false: a non-billable ICD-10-CM/PCS code is not valid",
                  value="valueBoolean")
_VS_URL = Param("url", VALUE_SET_URL, "the value set: a stored value set's canonical URL, or implicit "
                "<system>?fhir_vs (every code of a release) or <system>?fhir_vs=isa/<code> (a code and its "
                "descendants; hierarchical systems only). For SNOMED CT the base may be an edition/version URI. "
                "Unknown value set, system, release or root code: 404", required=True, value="valueUri")
_VS_VERSION = Param("valueSetVersion", _TEXT, "the value set's version (of an implicit one: the code system "
                    "release); not loaded: 404")
_SYSTEM_VERSION = Param("system-version", {"type": "array", "items": {"type": "string"}},
                        "canonical|version: the release of that system an implicit value set is drawn from when the "
                        "value set does not name one (values for other systems are ignored)", repeats=True,
                        value="valueCanonical")

OPERATIONS: dict[str, list[Param]] = {
    "/CodeSystem/$lookup": [
        _system("the code system's canonical URL (url|version also names the version); a system not loaded: 404",
                required=True),
        _code(description="the code to look up (not in the release: 404)"), _VERSION, _DATE_PARAM, _LANGUAGE,
        Param("property", {"type": "array", "items": _TEXT}, "limits the properties returned to these codes",
              repeats=True, value="valueCode"),
        _coding("coding", "system and code"),
    ],
    "/CodeSystem/$validate-code": [
        _system("the code system's canonical URL (`system` is accepted for it too)", required=True, name="url"),
        _code(description="the code (not in the release: result false)"), _VERSION, _DISPLAY, _DATE_PARAM,
        _ABSTRACT, _LANGUAGE,
        Param("system", None, "the code system, when url is not given (POST, or GET instead of url)", value="valueUri",
              body_schema={"type": "string", "enum": SYSTEM_URLS}),
        _coding("coding", "url and code"),
        Param("codeableConcept", None, "a CodeableConcept instead of url and code (POST only); the coding of url is "
              "validated, else the first", value="valueCodeableConcept", body_schema=_CONCEPT),
    ],
    "/CodeSystem/$subsumes": [
        _system("the code system (hierarchical ones only; others: 400)", HIERARCHICAL_URLS, required=True),
        _code("codeA", "the first code (not in the release: 404)"),
        _code("codeB", "the second code (not in the release: 404)"), _VERSION,
        _coding("codingA", "codeA"), _coding("codingB", "codeB"),
    ],
    "/ValueSet/$expand": [
        _VS_URL, _VS_VERSION,
        Param("filter", _TEXT, "text matched by the /v1/search full-text index; only members are kept"),
        _DATE_PARAM,
        Param("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}, "the first member returned "
              "(default 0)",
              value="valueInteger"),
        Param("count", {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
              f"members per page (default 100, at most {MAX_COUNT}); the total is in the answer", value="valueInteger"),
        _SYSTEM_VERSION, _LANGUAGE,
    ],
    "/ValueSet/$validate-code": [
        _VS_URL, _code(description="the code (not a member: result false)"), _VS_VERSION,
        Param("system", _TEXT, "the code's system; another system than an implicit value set's: result false; on a "
              "stored value set a system not served: 404", value="valueUri"),
        Param("systemVersion", _TEXT, "the release of the code's system: on an implicit value set it names the "
              "release when the value set does not (naming another release than the value set's: 400); on a stored "
              "one the member must be of that version (else result false); not loaded: 404"),
        _DISPLAY, _DATE_PARAM, _ABSTRACT, _SYSTEM_VERSION, _LANGUAGE,
        _coding("coding", "system and code"),
        Param("codeableConcept", None, "a CodeableConcept instead of system and code (POST only)",
              value="valueCodeableConcept", body_schema=_CONCEPT),
    ],
    "/ConceptMap/$translate": [
        Param("url", {"type": "string", "enum": [SNOMED_ICD10CM_MAP, CONVERSION_MAP]},
              f"the map (default: {SNOMED_ICD10CM_MAP}; a loaded procedure map's URL and url|version are accepted "
              f"too); the source system follows from it ({SNOMED_URL} or {ICD10CM_URL}), and a `system` given "
              "instead of url picks the map", value="valueUri"),
        Param("conceptMapVersion", _TEXT, "the map's version: the SNOMED CT release carrying it, the conversion "
              "table's or procedure maps' release; not loaded: 404; another release than `version`'s: 400"),
        _code(description="the source code (not in the release: result false)"), _VERSION,
        Param("targetsystem", {"type": "string", "enum": [ICD10CM_URL]}, "the target system; the CPT, HCPCS or "
              "ICD-10-PCS URL selects the procedure maps (400 not-supported while none is loaded)",
              value="valueUri"),
        Param("reverse", {"type": "boolean", "enum": [False]}, "reverse translation is not served (true: 400)",
              value="valueBoolean"),
        Param("system", None, "the source system instead of url (POST, or GET instead of url)", value="valueUri",
              body_schema={"type": "string", "enum": [SNOMED_URL, ICD10CM_URL]}),
        _coding("coding", "system and code"),
        Param("codeableConcept", None, "a CodeableConcept instead of system and code (POST only); its first coding",
              value="valueCodeableConcept", body_schema=_CONCEPT),
        Param("dependency", None, "patient context (POST only): parts element (age | age-at-onset | sex | concept, "
              "or their SNOMED CT URIs) and concept (a CodeableConcept; an age also as valueQuantity)",
              repeats=True, value="part", body_schema={"type": "array", "minItems": 1, "items": {
                  "type": "object", "required": ["name"], "properties": {"name": {"type": "string", "enum": [
                      "element", "concept", "valueQuantity"]}}}}),
    ],
}


def query_parameters(params: list[Param]) -> list[dict[str, Any]]:
    out = []
    for p in params:
        if p.schema is None:
            continue
        declared: dict[str, Any] = {"name": p.name, "in": "query", "required": p.required, "schema": p.schema,
                                    "description": p.description}
        if p.repeats:
            declared.update(style="form", explode=True)
        out.append(declared)
    return out


def _item(p: Param) -> dict[str, Any]:
    value = p.body_schema or p.schema or _TEXT
    if p.repeats and value.get("type") == "array" and p.value != "part":
        value = value["items"]
    return {"type": "object", "required": ["name", p.value], "additionalProperties": False,
            "properties": {"name": {"type": "string", "enum": [p.name]}, p.value: value},
            "description": p.description}


def parameters_body(params: list[Param]) -> dict[str, Any]:
    """A ``Parameters`` resource whose ``parameter`` items are this operation's inputs."""
    schema = {"type": "object", "required": ["resourceType"], "properties": {
        "resourceType": {"type": "string", "enum": ["Parameters"]},
        "parameter": {"type": "array", "items": {"oneOf": [_item(p) for p in params]}}},
        "description": "a FHIR R4 Parameters resource: each input parameter once (repeating ones aside); "
                       "the same rules as the GET form, and the alternative forms (coding, codeableConcept) too"}
    return {"required": True, "content": {FHIR_JSON: {"schema": schema}, "application/json": {"schema": schema}}}


def get_extra(path: str) -> dict[str, Any]:
    return {"parameters": query_parameters(OPERATIONS[path])}


def post_extra(path: str) -> dict[str, Any]:
    return {"requestBody": parameters_body(OPERATIONS[path])}
