"""Release models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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


class TitleRevisionOut(BaseModel):
    code: str
    old_title: str
    new_title: str


class ReleaseDiffOut(BaseModel):
    system: str
    from_release: str
    to_release: str
    scope: str = Field(description="'all codes', or 'billable codes' when a side was loaded from a billable-only list")
    counts: dict[str, int]
    added: list[str]
    deleted: list[str] = Field(description="codes of the older release the newer one does not list at all")
    expanded: dict[str, list[str]] = Field(
        description="codes that were billable and are no longer, because the newer release bills codes extending "
                    "them instead (B88.0 → B88.01, B88.09), with those subcodes (linked by REPLACED_BY)")
    made_non_billable: list[str] = Field(description="codes the newer release keeps as headers, with no new subcodes")
    title_revised: list[TitleRevisionOut]
    billable_changed: list[str]
    truncated_to: int = Field(description="each list holds at most this many codes; counts are complete")


class RetractIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000, description="why the release is withdrawn (recorded)")


class LoadRunOut(BaseModel):
    id: str
    status: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    source_files: list[str] | None = Field(default=None, description="name|size|sha256 of each file loaded")


class AssignmentUnderRelease(BaseModel):
    assignment: str
    encounter: str
    status: str | None = None
    date_of_service: str
    codes: list[str] = Field(description="codes of the release's system the assignment uses")


class RetractOut(BaseModel):
    id: str
    system: str
    version: str
    status: str = "retracted"
    retracted_at: str
    reason: str | None = None
    retracted_by: str | None = None
    load_runs: list[LoadRunOut] = Field(description="the release's load runs, kept for audit")
    assignments_total: int = Field(description="open coding assignments checked against the release: "
                                               "its system's codes on encounters dated in its window")
    assignments: list[AssignmentUnderRelease] = Field(description="the first of them, by date of service")
