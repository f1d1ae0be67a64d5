"""The baseline for HTTP rows: a bare FastAPI app with the code-lookup route shape and no graph behind it.

``GET /v1/codes/{system}/{code}`` returns a fixed JSON object padded to ``BARE_RECORD_BYTES`` (set by the
harness to the real code record's mean size), so both servers serialise and send about the same bytes; what
is left between them is the service's own work. ``GET /readyz`` answers like the real service's.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI

RECORD_BYTES = int(os.environ.get("BARE_RECORD_BYTES", "1200"))

app = FastAPI(title="bare baseline")


def _record(system: str, code: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "system": system, "code": code, "release": "icd10cm@FY2026", "title": "", "billable": True,
        "valid_from": "2025-10-01", "valid_to": None, "parents": [{"code": code[:3], "title": "parent"}],
        "children_count": 0, "notes": [], "maps": [],
    }
    # Pad the title so the serialised size matches the real record's.
    record["title"] = "x" * max(0, RECORD_BYTES - len(str(record)))
    return record


@app.get("/readyz")
def readyz() -> dict[str, str]:
    return {"status": "ready"}


@app.get("/v1/codes/{system}/{code}")
def code_record(system: str, code: str) -> dict[str, Any]:
    return _record(system, code)
