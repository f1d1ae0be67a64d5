"""What a code-system release writes when its relationships are stored as ranges: its differences only.

The layout and the predicate readers use are in ``ontology/release_ranges.py``. A code loader hands its rows to
``code_release.write_codes``/``write_edges`` as before; for a release in a chain they are held here until the
loader is done (then ``code_release._write_held`` writes them), because whether a code changed depends on its
membership, its parent and its outgoing edges together. Each code gets a **digest** of those (stored on its
membership), so the previous release is read as ~100k (key, digest) pairs instead of its ~250k relationships
with their values.

How a load writes (``release_chain.CODE_CHAIN.plan``), per code system release:
- ``first``: no chain yet (or the release differs from the previous one in most of its codes, e.g. a full tabular
  after billable-only code lists): every row; the release starts a chain (scope = itself);
- ``diff``: the release is not older than the newest chain release P: compare the digests with P's, close the
  membership, IS_A and edges of the codes changed or dropped (``until`` = this release, ``closed_by`` = the run),
  write those of the codes changed or added; scope = P's scope + itself;
- ``own`` (a back-fill, older than the newest chain release): every row, read by its own id only, so the later
  releases' ranges are not cut;
- ``reload`` (the release exists already, loaded again by a later run): written as before (MERGE), a chain
  release only when the file says exactly what the graph holds for it.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from neo4j import Driver

from loaders.errors import LoadError
from loaders.machinery.release_chain import ChainPlan
from ontology.release_ranges import RANGED_CODE_EDGES, code_scope, members
from ontology.vocabulary import L, R, seek_by_key

# A release that changes more than this share of the previous one's codes starts a chain of its own: closing
# most ranges only to write them again costs more than writing the release in full.
MOST = 0.5

# The (code key, digest) pairs valid in a release: two lists, one record (the driver decodes them in bulk).
DIGESTS = f"""
MATCH (rel:{L.Release} {{id: $release}})
WITH {code_scope('rel')} AS scope
{members('scope', 'c', 'm')}
RETURN collect(c.key) AS keys, collect(m.digest) AS digests
"""

# Closing what was valid in the previous release: it was current there (the previous release is the newest of
# the chain), so ``until`` was absent, which is what a discarded run's re-opening puts back.
CLOSE_RANGES = f"""
UNWIND $rows AS key
{seek_by_key('c', L.Code, 'key')}
MATCH (c)-[m:{R.IN_RELEASE}]->(:{L.Release})
WHERE m.release IN $scope AND m.until IS NULL
SET m.until = $release, m.closed_by = $run
WITH DISTINCT c
MATCH (c)-[e:{'|'.join(RANGED_CODE_EDGES)}]->()
WHERE e.release IN $scope AND e.until IS NULL
SET e.until = $release, e.closed_by = $run
"""


def read_digests(driver: Driver, database: str, release_id: str) -> dict[str, str | None]:
    records, _, _ = driver.execute_query(DIGESTS, release=release_id, database_=database, routing_="r")
    return dict(zip(records[0]["keys"], records[0]["digests"], strict=True)) if records else {}


def digest(row: Mapping[str, Any], edges: list[str]) -> str:
    """The digest of a code's membership fields (parent included) and its outgoing edges (each as text): equal
    digests, equal relationships; 128 bits, so a collision is not a concern. The rows are written out as the
    loader made them (sorting each row's fields doubled the cost): a loader that orders its fields differently
    makes every code look changed once, which rewrites the release, never loses a change."""
    text = repr(row) + "".join(sorted(edges))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass
class CodeCall:
    """One ``write_codes`` call held until the loader is done: written in the order given (parents before children)."""

    write: Callable[[list[Mapping[str, Any]]], None]
    rows: list[Mapping[str, Any]]


@dataclass
class EdgeCall:
    rel_type: str
    write: Callable[[list[Mapping[str, Any]]], None]
    rows: list[Mapping[str, Any]]


@dataclass
class RangeChanges:
    kind: str
    added: int = 0
    changed: int = 0
    dropped: int = 0
    unchanged: int = 0

    def as_counts(self) -> dict[str, Any]:
        return {"layout": self.kind, "codes_added": self.added, "codes_changed": self.changed,
                "codes_dropped": self.dropped, "codes_unchanged": self.unchanged}


@dataclass
class HeldRelease:
    """A chain release's rows, held until the loader is done, then compared and written."""

    plan: ChainPlan
    previous: Callable[[], dict[str, str | None]] | None = None
    codes: list[CodeCall] = field(default_factory=list)
    edges: list[EdgeCall] = field(default_factory=list)

    def add_codes(self, rows: list[Mapping[str, Any]], write: Callable[[list[Mapping[str, Any]]], None]) -> None:
        self.codes.append(CodeCall(write, rows))

    def add_edges(self, rel_type: str, rows: list[Mapping[str, Any]],
                  write: Callable[[list[Mapping[str, Any]]], None]) -> None:
        if rel_type not in RANGED_CODE_EDGES:
            raise LoadError(f"{rel_type} edges are not stored as ranges: a chain release cannot write them")
        self.edges.append(EdgeCall(rel_type, write, rows))

    def stamp_digests(self) -> dict[str, str]:
        """Each code row's digest, set on the row (its membership stores it); returns key → digest."""
        outgoing: dict[str, list[str]] = defaultdict(list)
        for call in self.edges:
            for row in call.rows:
                outgoing[row["source"]].append(call.rel_type + repr(row))
        digests: dict[str, str] = {}
        none: list[str] = []
        for code_call in self.codes:
            for row in code_call.rows:
                key = row["key"]
                digests[key] = value = digest(row, outgoing.get(key, none))
                row["digest"] = value  # type: ignore[index]  # code_row's dicts, made for this load
        return digests

    def changes(self, digests: dict[str, str]) -> tuple[RangeChanges, set[str] | None, list[str]]:
        """What to write (``None``: every code) and which codes' ranges to close."""
        if self.previous is None:
            return RangeChanges(self.plan.kind, added=len(digests)), None, []
        previous = self.previous()
        if self.plan.kind == "reload":
            if previous != digests:
                raise LoadError(
                    f"{self.plan.scope[-1]} is stored as ranges and these files differ from what it holds: retract "
                    "it and load the corrected files under the same id")
            return RangeChanges("reload", unchanged=len(digests)), set(), []
        write = {key for key, value in digests.items() if previous.get(key) != value}
        dropped = [key for key in previous if key not in digests]
        changed = [key for key in write if key in previous]
        if len(changed) + len(dropped) > MOST * max(len(previous), 1):
            return RangeChanges("first", added=len(digests)), None, []
        counts = RangeChanges("diff", added=len(write) - len(changed), changed=len(changed), dropped=len(dropped),
                              unchanged=len(digests) - len(write))
        return counts, write, sorted([*changed, *dropped])
