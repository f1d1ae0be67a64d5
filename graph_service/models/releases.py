"""Release models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel


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
