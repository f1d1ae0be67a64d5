"""Whether the codes of a FHIR source exist in the graph on their encounter's date.

A code must be a member of the release of its system in force on the encounter's date of service
(discharge, else admission) — the release a query of the service reads on that date. When no release of
the system is in force then but some are loaded, it must be a member of one of them (SNOMED CT identifiers,
for one, outlive their releases); when none is loaded at all (LOINC never is) only its shape was checked.
Both cases are counted as warnings. The coding bulk loader checks assigned codes the same way.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from neo4j import Driver

from loaders.fhir.code_systems import SYSTEM_LABELS
from loaders.fhir.issues import FhirIssue, FhirValidationError
from loaders.fhir.loaded import date_floor
from loaders.fhir.records import CodeToCheck, EncounterBundle, EncounterRecord
from loaders.machinery.runs import RunLedger
from ontology.code_systems import SYSTEMS, system
from ontology.release_ranges import in_release
from ontology.vocabulary import L, R


def service_date(encounter: EncounterRecord) -> date | None:
    """The date codes are valid on: discharge, else admission."""
    value = encounter.period_end or encounter.period_start
    return date_floor(value) if value is not None else None


# A membership names only the release that started its range: the visible releases of that system are tested.
VISIBLE_MEMBERSHIP = f"""
UNWIND $keys AS key
MATCH (c:{L.Code} {{key: key}})-[:{R.IN_RELEASE}]->(start:{L.Release})
WITH DISTINCT key, c, start.system AS system
MATCH (r:{L.Release} {{system: system, status: 'visible'}}) WHERE {in_release('c', 'r')}
RETURN key, collect(r.id) AS releases
"""


@dataclass(frozen=True)
class _Release:
    id: str
    effective_from: date | None
    effective_to: date | None
    version: str

    def covers(self, day: date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_to is None or day < self.effective_to
        )


def _native(value: Any) -> Any:
    return value.to_native() if hasattr(value, "to_native") else value


class GraphCodeCheck:
    """Which visible releases hold each code; one read of the releases per load, codes read in batches."""

    def __init__(self, driver: Driver, database: str) -> None:
        self.driver = driver
        self.database = database
        self.releases: dict[str, list[_Release]] = defaultdict(list)
        for rel in RunLedger(driver, database).visible_releases():
            self.releases[rel["system"]].append(_Release(
                rel["id"], _native(rel.get("effective_from")), _native(rel.get("effective_to")), rel["version"]))
        self._members: dict[str, frozenset[str]] = {}

    def in_force(self, system_id: str, day: date | None) -> _Release | None:
        """The release a query would read on ``day`` (as the service resolves it), or None."""
        if day is None:
            return None
        covering = [r for r in self.releases.get(system_id, []) if r.covers(day)]
        return max(covering, key=lambda r: (r.effective_from or date.min, r.version)) if covering else None

    def _load_members(self, keys: Iterable[str]) -> None:
        missing = sorted({k for k in keys if k not in self._members})
        for i in range(0, len(missing), 5000):
            chunk = missing[i : i + 5000]
            records, _, _ = self.driver.execute_query(VISIBLE_MEMBERSHIP, keys=chunk, database_=self.database,
                                                      routing_="r")
            found = {r["key"]: frozenset(r["releases"]) for r in records}
            self._members.update((k, found.get(k, frozenset())) for k in chunk)

    def check(self, codes: Iterable[tuple[CodeToCheck, date | None]], counts: Counter[str]) -> list[FhirIssue]:
        """Located issues for codes the graph does not know on their date; warnings counted in ``counts``."""
        todo = []
        for code, day in codes:
            if code.system_name not in SYSTEMS or not self.releases.get(code.system_name):
                counts[f"codes_not_checked_{code.system_name}"] += 1  # no release loaded: shape only
                continue
            todo.append((code, day, system(code.system_name).key(code.code)))
        self._load_members(key for _, _, key in todo)
        issues: list[FhirIssue] = []
        for code, day, key in todo:
            label = SYSTEM_LABELS[code.system_name]
            label = f"{'an' if label[0] in 'AEIOH' else 'a'} {label}"  # an ICD-10-CM, an HCPCS, a SNOMED CT
            members = self._members[key]
            release = self.in_force(code.system_name, day)
            if release is not None:
                if release.id not in members:
                    issues.append(FhirIssue(code.location, f"{label} code of {release.id}, the release in force "
                                                           f"on {day}", code.code))
                continue
            counts[f"codes_checked_without_release_in_force_{code.system_name}"] += 1
            if not members:
                loaded = ", ".join(r.id for r in self.releases[code.system_name])
                when = f"; none is in force on {day}" if day else ""
                issues.append(FhirIssue(code.location, f"{label} code of a loaded release ({loaded}){when}",
                                        code.code))
        return issues


def dated_codes(bundle: EncounterBundle) -> list[tuple[CodeToCheck, date | None]]:
    """Every code to check with the service date of the encounter its resource belongs to (None: no encounter)."""
    by_encounter = {e.id: service_date(e) for e in bundle.encounters}
    encounter_of: dict[str, str | None] = {f"Encounter/{e.id}": e.id for e in bundle.encounters}
    for kind, records in (("Condition", bundle.conditions), ("Procedure", bundle.procedures),
                          ("Observation", bundle.observations), ("DocumentReference", bundle.documents)):
        encounter_of.update((f"{kind}/{r.id}", r.encounter_id) for r in records)
    out = []
    for code in bundle.codes_to_check:
        encounter = encounter_of.get(code.resource) if code.resource else None
        out.append((code, by_encounter.get(encounter) if encounter else None))
    return out


def check_fhir_codes(driver: Driver, database: str, source: Path, bundle: EncounterBundle) -> Counter[str]:
    """The graph checks of one parsed source, before any write (the API refuses a bad bundle unstaged)."""
    counts: Counter[str] = Counter()
    issues = GraphCodeCheck(driver, database).check(dated_codes(bundle), counts)
    if issues:
        raise FhirValidationError(source, issues)
    return counts
