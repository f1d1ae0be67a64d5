"""The base of every request body: one contract across the API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """Unknown fields are refused (422 naming the field): a misspelt option must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")
