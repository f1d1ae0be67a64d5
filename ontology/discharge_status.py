"""FHIR encounter discharge dispositions → UB-04 patient discharge status (what the MS-DRG grouper reads)."""

from __future__ import annotations

from typing import Any

# terminology.hl7.org/CodeSystem/discharge-disposition → UB-04 FL 17 patient status.
DISCHARGE_STATUS = {
    "home": 1, "alt-home": 1, "hosp": 2, "snf": 3, "aadvice": 7, "exp": 20, "rehab": 62, "long": 63,
    "psy": 65, "other-hcf": 70, "oth": 70,
}


def discharge_status(value: Any) -> int | None:
    """A UB-04 status from a FHIR code or an already numeric status ("06", 6); None when unknown."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text.isdigit():
        return int(text)
    return DISCHARGE_STATUS.get(text)
