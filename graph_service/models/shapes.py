"""Value shapes shared by the request models, stated in the published schema as well as checked.

Each type carries its shape as JSON Schema (``pattern`` / ``format``) so the OpenAPI document says what the
service accepts: a client (or a fuzzer) generating from the schema gets requests the service takes, and
whatever the schema refuses is refused. What a regular expression cannot say (the SNOMED CT Verhoeff check
digit) is named by a ``format`` of our own and described in the field's schema.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from loaders.fhir.code_systems import verhoeff_check_digit

# Concept ids: 6-18 digits, no leading zero, partition 00 (short form) or 10 (extension), then the check digit.
SCTID_CONCEPT_PATTERN = r"^[1-9][0-9]{2,14}[01]0[0-9]$"
SCTID_FORMAT = "snomed-concept-id"
_SCTID = re.compile(r"[1-9][0-9]{5,17}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _concept_sctid(value: str) -> str:
    """The checks of ``SCTID_CONCEPT_PATTERN`` and the check digit, each with its own message."""
    if not _SCTID.fullmatch(value):
        raise ValueError("a SNOMED CT concept id is 6-18 digits with no leading zero")
    if value[-3:-1] not in ("00", "10"):
        raise ValueError(f"{value} is not a concept id (partition {value[-3:-1]!r}; concepts use 00 or 10)")
    check = verhoeff_check_digit(value[:-1])
    if check != int(value[-1]):
        raise ValueError(f"{value} fails the Verhoeff check (its last digit should be {check})")
    return value


def _day_text(value: object) -> object:
    """A date is ``YYYY-MM-DD`` text: a number (which pydantic would read as epoch seconds) or a date-time is
    refused, so the service takes exactly what ``format: date`` allows."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise ValueError(f"a date is YYYY-MM-DD text (e.g. 2025-11-03), not {value!r}")
    return value


# Published as its own format (a pattern alone would admit wrong check digits; generators given both follow the
# pattern); the validator checks each part so a refusal says which is wrong.
ConceptId = Annotated[str, Field(
    json_schema_extra={"format": SCTID_FORMAT,
                       "description": f"a SNOMED CT concept id: {SCTID_CONCEPT_PATTERN} (6-18 digits, partition 00 "
                                      "or 10) whose last digit is the Verhoeff check digit of the others"}),
    AfterValidator(_concept_sctid)]

IsoDate = Annotated[date, BeforeValidator(_day_text)]
