"""Responses serialised once: pydantic-core writes the JSON bytes straight from the model.

A route that declares ``response_model`` and returns the model has FastAPI validate it again, convert it
to plain Python and encode that with the json module; returning the bytes skips all three (the
declared model still documents the route in OpenAPI).
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    return Response(content=model.model_dump_json(by_alias=True), status_code=status_code,
                    media_type="application/json")
