"""An operation's inputs from either form: the query string (GET) or a ``Parameters`` resource (POST).

A POST body is parsed with the ``Parameters`` model (``render`` says which model set), so a malformed body is
refused with the element the model rejected, and the values are read from the parsed model: each value as the
model serialises its type (a date as its text, a Coding with only the elements it has). Each operation names
the parameters it serves; any other is refused as not supported rather than silently ignored (``_format``,
``_pretty`` and ``_summary`` aside).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from fastapi import Request
from fhir.resources.R4B.parameters import Parameters
from pydantic import ValidationError

from graph_service.fhir.outcome import FhirError, invalid, not_supported

_IGNORED = frozenset({"_format", "_pretty", "_summary"})
MAX_BODY = 1 << 20


class Inputs:
    """Parameter name → the values given, in order; scalars as given, Codings and parts as dicts."""

    def __init__(self, values: dict[str, list[Any]], served: frozenset[str]) -> None:
        unknown = sorted(set(values) - served - _IGNORED)
        if unknown:
            raise not_supported(f"parameter(s) {unknown} are not served by this operation; served: {sorted(served)}",
                                unknown[0])
        self.values = values

    def all(self, name: str) -> list[Any]:
        return self.values.get(name, [])

    def one(self, name: str) -> Any:
        found = self.values.get(name, [])
        if len(found) > 1:
            raise invalid(f"the parameter {name!r} is given {len(found)} times; it takes one value", name)
        return found[0] if found else None

    def text(self, name: str) -> str | None:
        value = self.one(name)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise invalid(f"the parameter {name!r} must be a non-empty string", name)
        return value.strip()

    def boolean(self, name: str) -> bool | None:
        value = self.one(name)
        if value is None or isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise invalid(f"the parameter {name!r} must be true or false, not {value!r}", name)

    def integer(self, name: str, *, minimum: int = 0, maximum: int | None = None) -> int | None:
        value = self.one(name)
        if value is None:
            return None
        try:
            number = value if isinstance(value, int) and not isinstance(value, bool) else int(str(value), 10)
        except ValueError:
            raise invalid(f"the parameter {name!r} must be an integer, not {value!r}", name) from None
        if number < minimum or (maximum is not None and number > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            raise invalid(f"the parameter {name!r} must be {bound}, not {number}", name)
        return number

    def day(self, name: str) -> date | None:
        """A date or dateTime parameter, as the day it names."""
        value = self.text(name)
        if value is None:
            return None
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            raise invalid(f"the parameter {name!r} must be a date (YYYY-MM-DD), not {value!r}", name) from None

    def display_language(self) -> None:
        """``displayLanguage``: every display and designation held is English, so ``en`` (any region) is served
        and any other language is refused rather than answered in English as if it were that language."""
        tag = self.text("displayLanguage")
        if tag is not None and tag.split("-", 1)[0].casefold() != "en":
            raise not_supported(f"displayLanguage {tag!r} is not served: displays and designations are held in "
                                "English only (en)", "displayLanguage")

    def codings_of_concept(self, name: str = "codeableConcept") -> list[dict[str, Any]] | None:
        """The codings with a code of a CodeableConcept parameter (only a POST Parameters body can carry one: given
        as query text it is refused, as is a concept without a coded coding)."""
        value = self.one(name)
        if value is None:
            return None
        codings = [c for c in (value.get("coding") or []) if isinstance(c, dict) and c.get("code")] \
            if isinstance(value, dict) else None
        if not codings:
            raise invalid(f"the parameter {name!r} must be a CodeableConcept with a coding that has a code (in a POST "
                          "Parameters body)", name)
        return codings

    def coding(self, name: str) -> dict[str, Any] | None:
        value = self.one(name)
        if value is None:
            return None
        if not isinstance(value, dict) or "code" not in value:
            raise invalid(f"the parameter {name!r} must be a Coding with a code", name)
        return value


def _value(param: dict[str, Any]) -> Any:
    if "part" in param:
        parts: dict[str, list[Any]] = {}
        for part in param["part"]:
            parts.setdefault(part["name"], []).append(_value(part))
        return parts
    for key, value in param.items():
        if key.startswith("value"):
            return value
    if "resource" in param:
        return param["resource"]
    return None


def from_query(request: Request, served: frozenset[str]) -> Inputs:
    values: dict[str, list[Any]] = {}
    for name, value in request.query_params.multi_items():
        values.setdefault(name, []).append(value)
    return Inputs(values, served)


async def from_body(request: Request, served: frozenset[str]) -> Inputs:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise FhirError(413, "too-costly", f"the Parameters body is larger than {MAX_BODY} bytes")
    try:
        body = json.loads(raw or b"null")
    except ValueError as exc:
        raise invalid(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise invalid("the body must be a FHIR Parameters resource (resourceType 'Parameters')", "resourceType")
    try:
        parsed = Parameters.model_validate(body)  # names, one value[x] per parameter, typed values
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise invalid(f"not a valid Parameters resource: {where}: {first.get('msg', '')}", where) from None
    values: dict[str, list[Any]] = {}
    for param in parsed.parameter or []:
        values.setdefault(param.name, []).append(_value(param.model_dump(mode="json")))
    # The query string may carry parameters too (e.g. the ValueSet url); the body wins on a clash.
    for name, value in request.query_params.multi_items():
        values.setdefault(name, [value])
    return Inputs(values, served)
