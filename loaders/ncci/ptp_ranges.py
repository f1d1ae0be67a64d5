"""NCCI PTP edits stored once over a range of releases, and what a new quarter writes: its differences only.

A real quarter differs from the one before in a few thousand of its ~500k pairs, so a BUNDLES relationship is
not one per release: it holds one edit (column 1, column 2, setting, effective date) with one set of values
(deletion date, modifier indicator, rationale, prior-1996 flag) from the release that introduced it
(``release``, stamped by run ``load_run``) until the release that dropped or changed it (``until``, stamped by
run ``closed_by``; absent while the edit is current).

The releases a range runs over form a chain, each chain release holding its **scope**: the ids of the chain up to
and including itself (``Release.ptp_scope``). An edge is valid in a release when it started inside the scope and
did not end inside it::

    e.release IN scope AND (e.until IS NULL OR NOT e.until IN scope)

Readers ask "valid in the release I serve", never "current": a release being staged (or discarded, or retracted)
is in no earlier release's scope, so its new edges and the ``until`` it puts on the previous quarter's edges
change nothing for the previous quarter's readers. Retraction therefore writes nothing; discarding a run deletes
its edges and re-opens what it closed (``RunLedger.discard_run``); archiving renames the id in ``release``,
``until`` and the scopes (``lifecycle.archive``).

How a load writes (``release_chain.PTP_CHAIN.plan``, shared with code systems):
- ``first``: no chain yet: every row, and the release starts the chain (scope = itself);
- ``diff``: the release is not older than the newest chain release P: read the edits valid in P (one streamed
  read), compare with the file's rows in memory, create the new and changed edits, close the dropped and changed
  ones (``until`` = this release); scope = P's scope + itself;
- ``own`` (a back-fill, older than the newest chain release): every row, read by its own id only (no
  ``ptp_scope``): it stays outside the chain, so the later quarters' ranges are not cut;
- ``reload`` (the release exists already, e.g. a visible release loaded again): its own edits must equal the
  file's; a legacy or back-filled release MERGEs its rows as before.

Graphs loaded before this layout hold one full copy per release, stamped ``release`` only: read by its own id
(no ``ptp_scope``), each is exactly its file. The next load upgrades the newest of them into the chain's start
(scope = itself; its edges mean ``since`` = their release, ``until`` = none, which they already say) — one
property write on a Release node, no edge rewritten — so that load is already a diff.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from neo4j import Driver

from loaders.machinery.release_chain import PTP_CHAIN
from ontology.release_ranges import valid_in
from ontology.vocabulary import L, R, seek_by_key

SYSTEM = "ncci_ptp"
SCOPE = PTP_CHAIN.scope("rel")  # the scope of the Release bound to ``rel`` (legacy: its own id)




# The edits valid in a release, as the diff compares them (dates as ISO text, as the file's rows carry them),
# one record per column-1 code: ~10k records instead of ~500k, each decoded as lists by the driver's codec.
# The hint: left alone the planner scans every Code node and expands its edits (measured on the 500k-row quarter:
# 3.8-4.0 s of server CPU against 2.6-2.8 s by the release index). Loads apply the schema first (registry).
VALID_EDITS = f"""
MATCH (rel:{L.Release} {{id: $release}})
WITH {SCOPE} AS scope
MATCH (a:{L.Code})-[e:{R.BUNDLES}]->(b:{L.Code}) USING INDEX e:{R.BUNDLES}(release) WHERE {valid_in('e', 'scope')}
WITH a, collect([b.key, e.setting, toString(e.effective), toString(e.deletion), e.modifier_indicator, e.rationale,
                 e.prior_1996]) AS edits
RETURN a.key AS column1, edits
"""

# Closing an edit valid in the previous release: it was current there (the previous release is the newest of the
# chain), so ``until`` was absent, which is what a discarded run's re-opening puts back (``ranged.reopen``).
CLOSE_PTP = f"""
UNWIND $rows AS row
{seek_by_key('a', L.Code, 'row.column1')}
{seek_by_key('b', L.Code, 'row.column2')}
MATCH (a)-[e:{R.BUNDLES}]->(b)
WHERE e.setting = row.setting AND e.effective = date(row.effective) AND e.release IN $scope AND e.until IS NULL
SET e.until = $release, e.closed_by = $run
"""

Identity = tuple[str, str, str, str]  # column 1 key, column 2 key, setting, effective (ISO)
Values = tuple[str | None, int, str | None, bool]  # deletion (ISO), modifier indicator, rationale, prior 1996


@dataclass
class PtpDiff:
    """What a release changes against the edits valid in the previous one."""

    create: list[dict[str, Any]] = field(default_factory=list)  # new and changed edits (file rows)
    close: list[dict[str, Any]] = field(default_factory=list)  # dropped and changed edits (identities)
    added: int = 0
    changed: int = 0
    dropped: int = 0
    unchanged: int = 0


def _read(driver: Driver, database: str, cypher: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(cypher, params, database_=database, routing_="r")
    return [r.data() for r in records]


def valid_edits(driver: Driver, database: str, release_id: str) -> dict[Identity, Values]:
    """The edits valid in ``release_id``, streamed into a dict (codes and texts interned: ~500k rows share a few
    thousand codes, eight rationales, ~150 dates)."""
    intern = sys.intern
    edits: dict[Identity, Values] = {}
    with driver.session(database=database, default_access_mode="READ", fetch_size=1_000) as session:
        for col1, rows in session.run(VALID_EDITS, release=release_id):
            col1 = intern(col1)
            for col2, setting, effective, deletion, indicator, rationale, prior in rows:
                edits[(col1, intern(col2), intern(setting), intern(effective))] = (
                    intern(deletion) if deletion else None, int(indicator), intern(rationale) if rationale else None,
                    bool(prior))
    return edits


def row_identity(row: dict[str, Any]) -> Identity:
    return (row["column1"], row["column2"], row["setting"], row["effective"])


def row_values(row: dict[str, Any]) -> Values:
    return (row["deletion"], row["modifier_indicator"], row["rationale"], row["prior_1996"])


Keyed = tuple[Identity, Values, Any]  # an edit of the file: its identity, its values, the parsed edit


def diff(previous: dict[Identity, Values], edits: Iterable[Keyed], to_row: Callable[[Any], dict[str, Any]]
         ) -> PtpDiff:
    """Compare the file's edits with the previous release's (consumes ``previous``); ``to_row`` makes the writer's
    row (``load.ptp_row``) of an edit to create — only those, not the ~500k unchanged ones."""
    out = PtpDiff()
    for identity, values, edit in edits:
        before = previous.pop(identity, None)
        if before is None:
            out.added += 1
            out.create.append(to_row(edit))
        elif before != values:
            out.changed += 1
            row = to_row(edit)
            out.create.append(row)
            out.close.append(row)
        else:
            out.unchanged += 1
    for (column1, column2, setting, effective) in previous:
        out.dropped += 1
        out.close.append({"column1": column1, "column2": column2, "setting": setting, "effective": effective})
    previous.clear()
    return out


def same_edits(current: dict[Identity, Values], edits: Iterable[Keyed]) -> bool:
    """Whether the file's edits are exactly the release's (a reload of a chain release)."""
    changes = diff(dict(current), edits, lambda edit: {})
    return not (changes.added or changes.changed or changes.dropped)
