"""Helpers for the /fhir tests: every answer is checked to be an R4 resource of the expected type."""

from __future__ import annotations

import os
from typing import Any

import httpx
from fhir.resources.R4B import get_fhir_model_class

FHIR_JSON = "application/fhir+json"
# The service validates every answer with the R4 models before sending it (a refused shape is a 500 here);
# `codegraph serve` started by these tests inherits it.
os.environ["CODEGRAPH_FHIR_VALIDATE"] = "1"


def resource(response: httpx.Response, resource_type: str, status: int = 200) -> dict[str, Any]:
    """The body of a FHIR answer, after checking status, media type and that the R4 model accepts it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON), response.headers["content-type"]
    body = response.json()
    assert body["resourceType"] == resource_type, body
    get_fhir_model_class(resource_type).model_validate(body)
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
