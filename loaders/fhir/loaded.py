"""Validated resources with their locations, and resolving references between them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource

from loaders.fhir.issues import FhirIssue, FhirLocation

log = logging.getLogger("loaders.input")


def _content(loaded: LoadedResource) -> str:
    """The resource's content in one canonical form, for telling an identical repeat from a conflicting one."""
    return json.dumps(loaded.resource.model_dump(mode="json", exclude_none=True), sort_keys=True)


@dataclass(frozen=True, slots=True)
class LoadedResource:
    resource: Resource  # a fhir.resources.R4B model, already schema-valid
    location: FhirLocation  # the resource itself: ``Bundle.entry[3].resource`` or ``Encounter`` (NDJSON)
    full_url: str | None  # Bundle.entry.fullUrl; None in NDJSON
    # Derived once: checks and records ask for them hundreds of thousands of times per source.
    type: str = field(init=False)
    id: str = field(init=False)  # the resource id, or its fullUrl (``urn:uuid:`` dropped) in a transaction
    key: str = field(init=False)  # ``Type/id``

    def __post_init__(self) -> None:
        resource_id = self.resource.id or (self.full_url or "").removeprefix("urn:uuid:").removeprefix("urn:oid:")
        resource_type = self.resource.get_resource_type()
        object.__setattr__(self, "type", resource_type)
        object.__setattr__(self, "id", resource_id)
        object.__setattr__(self, "key", f"{resource_type}/{resource_id}")

    @property
    def model(self) -> Any:
        """The model typed loosely, so that callers can read resource-specific fields."""
        return self.resource


class ResourceIndex:
    """Every resource of a source by ``Type/id`` and by fullUrl, for resolving references.

    The same ``Type/id`` twice with the same content (exports repeat a Patient per encounter) is folded with
    a warning: the repeat is dropped and its fullUrl points at the first. Twice with other content is an
    issue naming both entries, since loading either one would publish what the source does not say.
    """

    def __init__(self, resources: Iterable[LoadedResource]) -> None:
        self._by_key: dict[str, LoadedResource] = {}
        self.duplicate_issues: list[FhirIssue] = []
        self.folded = 0
        kept: list[LoadedResource] = []
        for loaded in resources:
            first = self._by_key.get(loaded.key) or (self._by_key.get(loaded.full_url) if loaded.full_url else None)
            if first is not None and first.key == loaded.key and _content(first) == _content(loaded):
                self.folded += 1
                log.warning("%s: duplicate %s (same content as %s) folded", loaded.location, loaded.key,
                            first.location.path)
                if loaded.full_url:
                    self._by_key.setdefault(loaded.full_url, first)
                continue
            kept.append(loaded)
            for key in (loaded.key, loaded.full_url):
                if not key:
                    continue
                if key in self._by_key and self._by_key[key] is not loaded:
                    earlier = self._by_key[key].location
                    reason = (f"a resource key used once (also at {earlier.path} with other content; "
                              "a repeat with the same content is folded)")
                    self.duplicate_issues.append(FhirIssue(loaded.location.child("id"), reason, key))
                    continue
                self._by_key[key] = loaded
        self.resources: tuple[LoadedResource, ...] = tuple(kept)
        # By type once: records are built per type, and a scan per lookup made a shard's parse quadratic.
        self._by_type: dict[str, list[LoadedResource]] = {}
        for loaded in kept:
            self._by_type.setdefault(loaded.type, []).append(loaded)

    def of_type(self, resource_type: str) -> Iterator[LoadedResource]:
        return iter(self._by_type.get(resource_type, ()))

    def resolve(self, reference: Reference | None) -> LoadedResource | None:
        """The resource a literal reference points to: ``Patient/1``, a fullUrl, or an absolute URL ending in one."""
        if reference is None or not reference.reference:
            return None
        ref = reference.reference
        if ref in self._by_key:
            return self._by_key[ref]
        parts = ref.split("/_history/")[0].rstrip("/").split("/")
        return self._by_key.get("/".join(parts[-2:])) if len(parts) >= 2 else None


def field_value(model: Any, name: str) -> Any:
    """``model.<name>``, or None when the model's type has no such element.

    Checked against the type's fields first: a missing attribute goes through pydantic's ``__getattr__``, which
    costs ~50 µs (a fifth of a shard's parse went there)."""
    fields = _field_names(type(model))
    return None if fields is not None and name not in fields else getattr(model, name, None)


@cache
def _field_names(model_type: type) -> frozenset[str] | None:
    """A model type's field names (None: not a pydantic model); pydantic's ``model_fields`` costs ~2.5 µs a read."""
    fields = getattr(model_type, "model_fields", None)
    return frozenset(fields) if fields is not None else None


def values_at(model: Any, dotted: str) -> list[tuple[str, Any]]:
    """Every non-empty value at ``dotted`` (``context.encounter``) under ``model``, with its path.

    A list on the way fans out with its index in the path: ``context.encounter[1]``.
    """
    found: list[tuple[str, Any]] = [("", model)]
    for name in dotted.split("."):
        step: list[tuple[str, Any]] = []
        for path, obj in found:
            # fhir.resources renames ``class`` (a Python keyword) to ``class_fhir``.
            value = field_value(obj, "class_fhir" if name == "class" else name)
            where = f"{path}.{name}" if path else name
            if isinstance(value, list):
                step += [(f"{where}[{i}]", v) for i, v in enumerate(value) if v is not None]
            elif value is not None:
                step.append((where, value))
        found = step
    return found


def date_floor(value: date | datetime | str) -> date:
    """The first calendar day ``value`` can mean: a datetime's own (offset-local) date; ``2024-03`` -> 2024-03-01.

    fhir.resources keeps partial dates (``2024``, ``2024-03``) as strings.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    parts = [int(p) for p in value[:10].split("-")]
    return date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
