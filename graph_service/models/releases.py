"""Release models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field


def _as_date(value: Any) -> date | None:
    return value.to_native() if hasattr(value, "to_native") else value


class ReleaseInfo(BaseModel):
    id: str
    system: str
    version: str
    effective_from: date | None = None
    effective_to: date | None = None
    note: str | None = None
    load_run: str | None = None
    loaded_at: datetime | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ReleaseInfo:
        return cls(**{k: _as_date(v) for k, v in row.items()})

    def covers(self, day: date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_to is None or day < self.effective_to
        )


class ReleaseDiffOut(BaseModel):
    system: str
    from_release: str
    to_release: str
    scope: str = Field(description="'all codes', or 'billable codes' when a side was loaded from a billable-only list")
    counts: dict[str, int]
    added: list[str]
    deleted: list[str]
    title_revised: list[str]
    billable_changed: list[str]
    truncated_to: int = Field(description="each list holds at most this many codes; counts are complete")
