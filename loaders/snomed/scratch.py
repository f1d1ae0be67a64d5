"""What a streaming SNOMED CT load remembers across files, kept on disk so its memory does not grow with the release.

Each RF2 file is streamed once, but some facts span files: which concept ids the release holds (a Snapshot's
repeated ids; the ends of IS-A rows and the mapped concepts are checked against them), each concept's FSN and US
preferred term (descriptions and the language refset are read before the concepts they title), the retired IS-A
pairs and the mapped concepts. Held in Python dicts and sets they cost ~500 bytes per concept (a 360k-concept
release peaked at 320 MB against 190 MB at 100k); here they live in a SQLite file in a temporary directory with
a bounded page cache. Lookups go a chunk of rows per statement (ids as a JSON array): a statement per row costs
~4 µs, a row inside a chunk ~0.6 µs.

One load uses one scratch from its stream threads one after another (never at once); a lock keeps it so.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from loaders.snomed.rf2 import (
    FSN_TYPE,
    PREFERRED,
    SYNONYM_TYPE,
    US_ENGLISH_REFSET,
    ConceptTerms,
    SnomedDescription,
    SnomedLanguageMember,
)

CHUNK = 5000
_PAGE_CACHE_KIB = 16 << 10

_SCHEMA = """
CREATE TABLE concept (id INTEGER PRIMARY KEY, content INTEGER NOT NULL, line INTEGER NOT NULL);
CREATE TABLE preferred_description (id INTEGER PRIMARY KEY);
CREATE TABLE term (concept INTEGER PRIMARY KEY, fsn TEXT, preferred TEXT, fsn_clash TEXT, preferred_clash TEXT);
CREATE TABLE retired_pair (child INTEGER, parent INTEGER, PRIMARY KEY (child, parent)) WITHOUT ROWID;
CREATE TABLE mapped_concept (id INTEGER PRIMARY KEY);
"""

_IN_CHUNK = "IN (SELECT value FROM json_each(?))"

# A preferred description fills its concept's FSN or preferred term; a second, different one is kept as the clash
# (SET expressions read the row as it was, so the first term stays and the clash names the second).
_ADD_TERM = """
INSERT INTO term (concept, fsn, preferred)
SELECT ?1, CASE WHEN ?2 THEN ?3 END, CASE WHEN ?2 THEN NULL ELSE ?3 END
WHERE EXISTS (SELECT 1 FROM preferred_description WHERE id = ?4)
ON CONFLICT (concept) DO UPDATE SET
  fsn_clash = coalesce(fsn_clash, CASE WHEN fsn <> excluded.fsn THEN excluded.fsn END),
  fsn = coalesce(fsn, excluded.fsn),
  preferred_clash = coalesce(preferred_clash, CASE WHEN preferred <> excluded.preferred THEN excluded.preferred END),
  preferred = coalesce(preferred, excluded.preferred)
"""


class ReleaseScratch:
    """Disk-backed per-concept state of one load; a context manager that removes its file on exit."""

    def __init__(self, directory: Path | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="codegraph-snomed-", dir=directory)
        # Used from the loader's stream threads in turn (check_same_thread off), never two at once (the lock).
        self._db = sqlite3.connect(Path(self._dir.name) / "scratch.db", isolation_level=None,
                                   check_same_thread=False)
        self._lock = threading.Lock()
        for pragma in ("journal_mode = OFF", "synchronous = OFF", f"cache_size = -{_PAGE_CACHE_KIB}"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.executescript(_SCHEMA)

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """The lock, and one transaction for the writes (autocommit would commit every row of an executemany)."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

    def close(self) -> None:
        # Under the lock: a failed write can end the load while a stream thread is still inside a call.
        with self._lock:
            self._db.close()
        self._dir.cleanup()

    def __enter__(self) -> ReleaseScratch:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    # --- concept ids ---------------------------------------------------------------------------------------------

    def register_concepts(self, rows: Sequence[tuple[int, int, int]]) -> list[tuple[int, int]]:
        """Record ``(id, content hash, line)`` rows; per row, the ``(content, line)`` of the first row of its id
        (the row itself when the id is new), so a caller tells a new id, a repeat and a conflict apart."""
        with self._writing() as db:
            first = {number: (content, line) for number, content, line in self._db.execute(
                f"SELECT id, content, line FROM concept WHERE id {_IN_CHUNK}", (_ids(r[0] for r in rows),))}
            new: list[tuple[int, int, int]] = []
            answer = []
            for number, content, line in rows:
                seen = first.get(number)
                if seen is None:
                    seen = first[number] = (content, line)
                    new.append((number, content, line))
                answer.append(seen)
            db.executemany("INSERT INTO concept VALUES (?, ?, ?)", new)
            return answer

    def unknown_concepts(self, ids: Iterable[int]) -> set[int]:
        """Those of ``ids`` that no registered concept has."""
        with self._lock:
            return {row[0] for row in self._db.execute(
                "SELECT value FROM json_each(?) WHERE value NOT IN (SELECT id FROM concept)", (_ids(ids),))}

    # --- terms ---------------------------------------------------------------------------------------------------

    def collect_terms(self, descriptions: Iterable[SnomedDescription],
                      language_members: Iterable[SnomedLanguageMember], refset_id: str = US_ENGLISH_REFSET) -> None:
        """Per concept, its FSN and preferred synonym in ``refset_id``: active descriptions whose active member of
        that refset says preferred. Raises ValueError if a concept has two different ones of either."""
        preferred = ((int(m.description_id),) for m in language_members
                     if m.active and m.refset_id == refset_id and m.acceptability_id == PREFERRED)
        candidates = ((int(d.concept_id), d.type_id == FSN_TYPE, d.term, int(d.id)) for d in descriptions
                      if d.active and d.type_id in (FSN_TYPE, SYNONYM_TYPE))
        with self._writing() as db:
            db.executemany("INSERT OR IGNORE INTO preferred_description VALUES (?)", preferred)
            db.executemany(_ADD_TERM, candidates)
            db.execute("DELETE FROM preferred_description")
            clash = db.execute(
                "SELECT concept, fsn, fsn_clash, preferred, preferred_clash FROM term "
                "WHERE fsn_clash IS NOT NULL OR preferred_clash IS NOT NULL LIMIT 1").fetchone()
        if clash is not None:
            concept, fsn, fsn_clash, preferred_term, preferred_clash = clash
            what, first, second = (("FSN", fsn, fsn_clash) if fsn_clash is not None
                                   else ("preferred term", preferred_term, preferred_clash))
            raise ValueError(f"concept {concept} has two {what}s in refset {refset_id}: {first!r} and {second!r}")

    def terms_of(self, concept_ids: Iterable[int]) -> dict[int, tuple[str | None, str | None]]:
        """``{concept id: (FSN, preferred term)}`` for those of ``concept_ids`` that have either."""
        with self._lock:
            return {concept: (fsn, preferred) for concept, fsn, preferred in self._db.execute(
                f"SELECT concept, fsn, preferred FROM term WHERE concept {_IN_CHUNK}", (_ids(concept_ids),))}

    def all_terms(self) -> Iterator[ConceptTerms]:
        """Every concept's terms, by concept id."""
        with self._lock:
            rows = self._db.execute("SELECT concept, fsn, preferred FROM term ORDER BY concept").fetchall()
        for concept, fsn, preferred in rows:
            yield ConceptTerms(str(concept), fsn, preferred)

    # --- retired IS-A pairs and mapped concepts -------------------------------------------------------------------

    def add_retired_pairs(self, pairs: Iterable[tuple[int, int]]) -> None:
        with self._writing() as db:
            db.executemany("INSERT OR IGNORE INTO retired_pair VALUES (?, ?)", pairs)

    def retired_pairs(self, size: int = CHUNK) -> Iterator[list[tuple[int, int]]]:
        """The distinct retired ``(child, parent)`` pairs, ``size`` at a time (keyset pages: no lock is held
        between them)."""
        after = (-1, -1)
        while True:
            with self._lock:
                chunk = self._db.execute(
                    "SELECT child, parent FROM retired_pair WHERE (child, parent) > (?, ?) "
                    "ORDER BY child, parent LIMIT ?", (*after, size)).fetchall()
            if not chunk:
                return
            yield chunk
            after = chunk[-1]

    def add_mapped_concepts(self, ids: Iterable[int]) -> None:
        with self._writing() as db:
            db.executemany("INSERT OR IGNORE INTO mapped_concept VALUES (?)", ((i,) for i in ids))

    def mapped_concepts(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM mapped_concept").fetchone()[0]


def _ids(ids: Iterable[int]) -> str:
    return json.dumps(list(ids))


def concept_terms(descriptions: Iterable[SnomedDescription], language_members: Iterable[SnomedLanguageMember],
                  refset_id: str = US_ENGLISH_REFSET) -> dict[str, ConceptTerms]:
    """``ReleaseScratch.collect_terms`` as a dict by concept id (for a small release, or a test)."""
    with ReleaseScratch() as scratch:
        scratch.collect_terms(descriptions, language_members, refset_id)
        return {terms.concept_id: terms for terms in scratch.all_terms()}

