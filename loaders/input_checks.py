"""Checks every loader applies to its input the same way: repeated keys, empty files, field widths, sizes.

- ``RepeatedKeys``: the same key twice in a release. An identical repeat is folded (counted, logged once per
  file); a repeat with other content is a located error naming both lines, because a loader that kept
  either one would publish a graph the file does not support.
- ``counting_folds`` / ``note_folded``: the folded repeats of one run, per file and record, for the run's
  report (the pipeline puts them in its counts, so the CLI and the run ledger show them).
- ``check_file_size``: a whole-file reader (XML, small CSV tables) refuses a file over its format's cap
  before reading a byte of it.
- ``check_width``: a field over the format's documented width is refused, naming file, line and field.
- ``require_rows``: a file whose format requires rows but that has none (empty, or a header alone).
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from loaders.errors import ParseError

log = logging.getLogger("loaders.input")

# csv's limit is per process: one cap for every CSV table the loaders read (the MCD export's paragraph
# HTML is the widest real field, tens of KB); csv refuses a longer field having read only this much.
CSV_FIELD_LIMIT = 1 << 20
csv.field_size_limit(CSV_FIELD_LIMIT)

# The folded repeats of the run in progress in this context (a load runs in one thread; a parser thread it
# starts runs in a copy of its context): "<file name>: <record>" -> how many were folded.
_FOLDED: ContextVar[Counter[str] | None] = ContextVar("folded_repeats", default=None)


@contextmanager
def counting_folds() -> Iterator[Counter[str]]:
    """Count the identical repeats folded while the block runs (what a run's report shows)."""
    tally: Counter[str] = Counter()
    token = _FOLDED.set(tally)
    try:
        yield tally
    finally:
        _FOLDED.reset(token)


def note_folded(file: str | Path, what: str, count: int = 1) -> None:
    """An identical repeat of ``what`` in ``file`` was folded (dropped, the first kept)."""
    tally = _FOLDED.get()
    if tally is not None:
        tally[f"{Path(file).name}: {what}"] += count


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class DuplicateKeyError(ParseError):
    """The same key twice in one release with different content."""


@dataclass
class RepeatedKeys(Generic[K, V]):
    """Keys seen so far in one release: ``first(key, value, file, line)`` is True the first time, False for an
    identical repeat (folded), and raises ``DuplicateKeyError`` for a conflicting one.

    ``what`` names the record ("code", "MS-DRG", "concept"), ``field`` the field that differs by default and
    ``describe`` turns a value into the text a message shows.
    """

    what: str
    field: str
    describe: Callable[[V], str] = repr
    _seen: dict[K, tuple[V, str, int | None]] = field(default_factory=dict)
    _warned: set[str] = field(default_factory=set)

    def first(self, key: K, value: V, file: str | Path, line: int | None, *,
              field_name: str | Callable[[], str] | None = None) -> bool:
        """``field_name`` (or a function giving it, called only for an error) overrides ``field``."""
        seen = self._seen.get(key)
        if seen is None:
            self._seen[key] = (value, str(file), line)
            return True
        earlier, earlier_file, earlier_line = seen
        where = f"line {earlier_line}" if earlier_file == str(file) else f"{Path(earlier_file).name}:{earlier_line}"
        if earlier == value:
            note_folded(file, self.what)
            if str(file) not in self._warned:
                self._warned.add(str(file))
                log.warning("%s:%s: duplicate %s %s (same as %s) folded", file, line, self.what, key, where)
            return False
        named = field_name() if callable(field_name) else field_name
        raise DuplicateKeyError(
            file, line, named or self.field,
            f"no conflicting duplicate: {self.what} {key} is already at {where} with {self.describe(earlier)}",
            f"duplicate {self.what} {key} with {self.describe(value)}",
        )

    def __contains__(self, key: object) -> bool:
        return key in self._seen

    def __len__(self) -> int:
        return len(self._seen)


def check_file_size(path: Path, limit: int, what: str) -> None:
    """Refuse ``path`` over ``limit`` bytes before reading it (``what`` names the format in the message)."""
    size = path.stat().st_size
    if size > limit:
        raise ParseError(path, None, "file size", f"a {what} of at most {limit:,} bytes (the format's cap)",
                         f"{size:,} bytes")


def check_width(file: str | Path, line: int | None, field: str, value: str, limit: int) -> str:
    """``value`` if it fits the format's documented width for ``field``; a located error otherwise."""
    if len(value) > limit:
        raise ParseError(file, line, field, f"at most {limit:,} characters (the format's width)",
                         f"{len(value):,} characters starting {value[:40]!r}")
    return value


def require_rows(file: str | Path, count: int, what: str, line: int | None = None) -> None:
    """A format that requires rows: refuse an empty or header-only file (so an empty release is never made)."""
    if count == 0:
        raise ParseError(file, line, "rows", f"at least one {what} (the file is empty or holds only its header)",
                         "no rows")
