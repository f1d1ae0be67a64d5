"""One vocabulary for the patient across the API (derivation, claim edits, MS-DRG grouping).

* sex is FHIR administrative gender: ``male``, ``female``, ``other``, ``unknown``; absent means *not given*,
  which is not the same as ``unknown`` (the record says it is not known);
* age is ``{"value": 4, "unit": "months"}`` with ``years``, ``months``, ``weeks`` or ``days`` — or a
  ``birth_date`` with the date of service, from which the age in days is computed. A bare number is read as
  years, the form older clients send.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PlainSerializer

from graph_service.models.base import RequestModel

AdministrativeGender = Literal["male", "female", "other", "unknown"]
AgeUnit = Literal["years", "months", "weeks", "days"]
_DAYS_PER = {"years": Decimal("365.25"), "months": Decimal("30.4375"), "weeks": Decimal(7), "days": Decimal(1)}


def _bare_years(value: Any) -> Any:
    """``72`` → ``{"value": 72, "unit": "years"}``."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return {"value": value, "unit": "years"}
    return value


_AgeNumber = Annotated[float, Field(ge=0, le=200 * 366)]  # the bounds below, as the schema publishes them


def _number(value: Any) -> Any:
    """An age value is a JSON number, as the schema publishes it (not a numeric string)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"an age value is a number, not {value!r}")
    return value


class AgeIn(RequestModel):
    value: Annotated[Decimal, BeforeValidator(_number, json_schema_input_type=_AgeNumber),
                     PlainSerializer(float, return_type=float, when_used="json")] = Field(
        ge=0, le=200 * 366, description="e.g. 4 (months); read as an exact decimal")
    unit: AgeUnit = Field(description="years, months, weeks or days")

    def days(self) -> Decimal:
        return self.value * _DAYS_PER[self.unit]

    def whole_years(self) -> int:
        """Completed years, as claims and the MS-DRG grouper count age."""
        return int(self.days() / _DAYS_PER["years"])


# An age field: {value, unit}, or a bare number of years.
# The schema publishes both forms (json_schema_input_type), so a bare number is a documented input.
Age = Annotated[AgeIn, BeforeValidator(_bare_years, json_schema_input_type=AgeIn | _AgeNumber)]


def age_from_birth_date(birth_date: date, on: date) -> AgeIn:
    """The age in days on ``on``; refuses a birth date after it."""
    if birth_date > on:
        raise ValueError(f"birth_date {birth_date} is after the date of service {on}")
    return AgeIn(value=Decimal((on - birth_date).days), unit="days")


def _to_whole_years(value: Any) -> Any:
    """An age given as {value, unit} → completed years; a bare number passes as years."""
    if isinstance(value, dict | AgeIn):
        return (value if isinstance(value, AgeIn) else AgeIn.model_validate(value)).whole_years()
    return value


# Where a consumer counts age in completed years (the MS-DRG grouper): the same input forms, read as years.
AgeInYears = Annotated[int, BeforeValidator(_to_whole_years)]
