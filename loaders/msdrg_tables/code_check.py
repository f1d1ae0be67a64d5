"""The MS-DRG tables' ICD-10-CM codes against the ICD-10-CM release in force when their fiscal year starts.

CMS builds a year's Tables 6I/6J/6K on that year's ICD-10-CM code set, so a code the release does not list is
a mismatch (a table of another year, or a code set not yet loaded). It is counted and warned about, not
refused: the graph may hold only a later update of the code set, and the tables are loadable before
ICD-10-CM (their code nodes are then created bare). Without a visible release in force, nothing is checked.
"""

from __future__ import annotations

import logging
from datetime import date

from neo4j import Driver

from loaders.machinery.runs import VISIBLE
from ontology.code_systems import system
from ontology.release_ranges import membership, with_scope
from ontology.vocabulary import L

ICD10CM = system("icd10cm")
log = logging.getLogger("loaders.msdrg")
SHOWN = 10  # codes named in the warning; the count covers them all

_IN_FORCE = f"""
MATCH (r:{L.Release} {{system: $system}})
WHERE r.status = '{VISIBLE}' AND r.effective_from <= $day AND (r.effective_to IS NULL OR r.effective_to >= $day)
RETURN r.id AS id ORDER BY r.effective_from DESC LIMIT 1
"""
# By Code.key (the unique index): with the ICD10CMCode label the planner expanded every membership of the release
# for each key (18k keys x 98k members: a fresh MS-DRG load after ICD-10-CM took over 15 minutes here).
_ABSENT = f"""
{with_scope()}
UNWIND $keys AS key
OPTIONAL MATCH {membership(f'c:{L.Code} {{key: key}}', 'm', 'scope')}
WITH key, m WHERE m IS NULL
RETURN collect(key) AS absent
"""


def codes_absent_from_icd10cm(driver: Driver, database: str, fiscal_year: int,
                              codes: set[str]) -> tuple[str, list[str]] | None:
    """(release id, the dotted codes it does not list) for the ICD-10-CM release in force on October 1 before
    ``fiscal_year``; None when no visible release is in force then."""
    day = date(fiscal_year - 1, 10, 1)
    found, _, _ = driver.execute_query(_IN_FORCE, system=ICD10CM.id, day=day, database_=database,
                                       routing_="r")
    if not found:
        return None
    release = found[0]["id"]
    by_key = {ICD10CM.key(code): code for code in codes}
    rows, _, _ = driver.execute_query(_ABSENT, release=release, keys=sorted(by_key), database_=database,
                                      routing_="r")
    absent = sorted(by_key[key] for key in rows[0]["absent"]) if rows else []
    if absent:
        log.warning("%d code(s) of the MS-DRG tables are not in %s: %s%s", len(absent), release,
                    ", ".join(absent[:SHOWN]), " …" if len(absent) > SHOWN else "")
    return release, absent
