"""Helpers for the /fhir tests: every answer is checked to be an R4 resource of the expected type."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fhir.resources.R4B import get_fhir_model_class
from fhirclient.models.fhirelementfactory import FHIRElementFactory

FHIR_JSON = "application/fhir+json"


def valid_r4(body: dict[str, Any]) -> None:
    """``body`` read by two model sets: the R4B models the service checks its answers with (``fhir.resources``),
    whose own serialisation must give back the very answer sent, and the FHIR 4.0.1 models of ``fhirclient``
    (strict: unknown or mistyped elements and missing required ones are refused)."""
    resource_type = body["resourceType"]
    model = get_fhir_model_class(resource_type).model_validate(body)
    assert json.loads(model.model_dump_json()) == body, "the model does not write the answer as it was sent"
    r4 = FHIRElementFactory.instantiate(resource_type, body)  # raises FHIRValidationError on a bad shape
    assert getattr(r4, "resource_type", None) == resource_type, f"{resource_type} is not an R4 resource"
    assert r4.as_json() == body, "the R4 model does not read back the same resource"


def resource(response: httpx.Response, resource_type: str, status: int = 200) -> dict[str, Any]:
    """The body of a FHIR answer, after checking status, media type and that it is a valid R4 resource."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON), response.headers["content-type"]
    body = response.json()
    assert body["resourceType"] == resource_type, body
    valid_r4(body)
    return body


def issue(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The one issue of an OperationOutcome answer with this status and issue code."""
    [found] = resource(response, "OperationOutcome", status)["issue"]
    assert (found["severity"], found["code"]) == ("error", code), found
    return found


def _value(p: dict[str, Any]) -> Any:
    if "part" in p:  # parts by name (a repeated part name keeps its last value)
        return {q["name"]: _value(q) for q in p["part"]}
    return next(v for k, v in p.items() if k.startswith("value"))


def params(body: dict[str, Any], name: str) -> list[Any]:
    """Values (or part dicts) of the out-parameters named ``name``."""
    return [_value(p) for p in body.get("parameter", []) if p["name"] == name]


def param(body: dict[str, Any], name: str) -> Any:
    [value] = params(body, name)
    return value


def properties(body: dict[str, Any], code: str) -> list[Any]:
    return [p["value"] for p in params(body, "property") if p["code"] == code]


def parameters(**values: Any) -> dict[str, Any]:
    """A Parameters body: ``code="E11.9"`` → valueCode etc. by the Python type and the name."""
    out = []
    for name, value in values.items():
        name = name.rstrip("_")
        if isinstance(value, bool):
            out.append({"name": name, "valueBoolean": value})
        elif isinstance(value, int):
            out.append({"name": name, "valueInteger": value})
        elif isinstance(value, dict):
            out.append({"name": name, "valueCoding": value})
        elif name in ("system", "url", "targetsystem"):
            out.append({"name": name, "valueUri": value})
        elif name in ("code", "codeA", "codeB"):
            out.append({"name": name, "valueCode": value})
        else:
            out.append({"name": name, "valueString": value})
    return {"resourceType": "Parameters", "parameter": out}
