"""Read the tables of an MCD CSV download: a folder, a zip, or a zip holding ``*_csv.zip``.

Each table is a quoted UTF-8 CSV with a header row (sometimes with a BOM). Rows come back as dicts
with their 1-based line number, after the header has been checked for the columns a parser needs.
"""

from __future__ import annotations

import csv
import html
import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO

from loaders.errors import ParseError, WrongFileError
from loaders.input_checks import CSV_FIELD_LIMIT

# Paragraph fields hold whole HTML sections (tens of KB): csv's limit is the one loaders/input_checks.py sets
# for every CSV (1 MiB), so a longer field is refused having read only that much. Physical lines are capped too.
MAX_LINE_BYTES = CSV_FIELD_LIMIT

_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%m/%d/%Y")


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One data row: its values by column name and the line it starts on (the header is line 1)."""

    file: str
    line: int
    values: dict[str, str]

    def text(self, column: str) -> str:
        """The stripped value; a column the header lacks reads as empty (only optional columns get here)."""
        return (self.values.get(column) or "").strip()

    def required(self, column: str, expected: str = "a value") -> str:
        value = self.text(column)
        if not value:
            raise ParseError(self.file, self.line, column, expected, "")
        return value

    def code(self, column: str, shape: re.Pattern[str], expected: str) -> str:
        value = self.required(column, expected).upper()
        if not shape.fullmatch(value):
            raise ParseError(self.file, self.line, column, expected, value)
        return value

    def integer(self, column: str) -> int:
        value = self.required(column, "a whole number")
        if not value.isdigit():
            raise ParseError(self.file, self.line, column, "a whole number", value)
        return int(value)

    def optional_integer(self, column: str) -> int | None:
        return self.integer(column) if self.text(column) else None

    def day(self, column: str) -> date:
        return _parse_date(self, column, self.required(column, "a date"))

    def optional_day(self, column: str) -> date | None:
        value = self.text(column)
        return _parse_date(self, column, value) if value else None


def _parse_date(row: CsvRow, column: str, value: str) -> date:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ParseError(row.file, row.line, column, "a date (YYYY-MM-DD[ HH:MM:SS] or MM/DD/YYYY)", value)


class McdExport:
    """An opened MCD download. ``table(name)`` yields the rows of ``<name>.csv``.

    Accepts the folder the CSVs were extracted to, the ``*_csv.zip`` itself, or the outer download zip
    that wraps it (CMS ships a zip holding the CSV zip and a readme).
    """

    def __init__(self, path: Path, *, encoding: str = "utf-8-sig") -> None:
        self.path = path
        self.encoding = encoding
        if not path.exists():
            raise ParseError(path, None, None, "an MCD export folder or zip", "nothing at this path")
        if path.is_dir():
            self._names = {p.name.lower(): p for p in path.rglob("*.csv")}
            self._zip: zipfile.ZipFile | None = None
        else:
            self._zip = _open_csv_zip(path)
            self._names = {Path(n).name.lower(): n for n in self._zip.namelist() if n.lower().endswith(".csv")}

    def has(self, table: str) -> bool:
        return f"{table}.csv" in self._names

    def where(self, table: str) -> str:
        """How errors name the table's file: its path, or ``download.zip!article.csv`` inside a zip."""
        entry = self._names.get(f"{table}.csv")
        if entry is None:
            return str(self.path / f"{table}.csv")
        return str(entry) if self._zip is None else f"{self.path}!{entry}"

    @contextmanager
    def _open_lines(self, table: str) -> Iterator[Iterator[str]]:
        entry = self._names.get(f"{table}.csv")
        if entry is None:
            raise WrongFileError(self.path, None, None, f"an MCD article export containing {table}.csv",
                                 "no such table (is this an LCD or NCD download?)")
        raw = self._zip.open(str(entry)) if self._zip is not None else open(entry, "rb")  # noqa: SIM115
        with raw:
            yield _decoded_lines(raw, self.where(table), self.encoding)

    def table(self, table: str, required: Sequence[str]) -> Iterator[CsvRow]:
        """Rows of ``table``; raises before the first row if a required column is missing."""
        file = self.where(table)
        with self._open_lines(table) as lines:
            reader = csv.DictReader(lines)
            try:
                header = [h.strip().lower() for h in (reader.fieldnames or [])]
                if not header:
                    raise ParseError(file, 1, None, "a header row", "an empty file")
                reader.fieldnames = header
                missing = [c for c in required if c not in header]
                if missing:
                    raise WrongFileError(file, 1, missing[0], f"a header with columns {', '.join(required)}",
                                         ",".join(header)[:200])
                start = reader.line_num + 1
                for values in reader:
                    if None in values:
                        # DictReader files extra cells under None: the row has more cells than the header.
                        raise ParseError(file, start, None, f"{len(header)} cells as in the header",
                                         f"{len(header) + len(values[None])} cells")
                    if any(values.get(c) is None for c in header):
                        raise ParseError(file, start, header[-1], f"{len(header)} cells as in the header",
                                         "a short row (truncated file?)")
                    yield CsvRow(file, start, values)
                    start = reader.line_num + 1
            except csv.Error as err:
                raise ParseError(file, reader.line_num, None, "well-formed quoted CSV", str(err)) from err


def _decoded_lines(raw: IO[bytes], file: str, encoding: str) -> Iterator[str]:
    """Decode line by line so a bad byte is reported on its own line (a newline byte is never inside a
    UTF-8 character, so splitting before decoding is safe)."""
    number = 0
    while line := raw.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line.rstrip(b"\r\n")) > MAX_LINE_BYTES:
            raise ParseError(file, number, None, f"a line of at most {MAX_LINE_BYTES:,} bytes (the export's cap)",
                             f"a longer line starting {line[:60]!r}")
        try:
            yield line.decode(encoding)
        except UnicodeDecodeError as err:
            raise ParseError(file, number, None, f"text in {encoding.removesuffix('-sig')}",
                             f"byte {err.object[err.start:err.start + 1]!r}") from err


def _open_csv_zip(path: Path) -> zipfile.ZipFile:
    try:
        outer = zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        raise WrongFileError(path, None, None, "an MCD export folder or zip", "a file that is not a zip") from err
    names = outer.namelist()
    if any(n.lower().endswith(".csv") for n in names):
        return outer
    inner = [n for n in names if n.lower().endswith("_csv.zip")]
    if len(inner) != 1:
        raise WrongFileError(path, None, None, "a zip of MCD CSV tables or one holding a *_csv.zip",
                             ", ".join(names)[:200])
    # The inner zip is small enough (tens of MB) to read into memory; zipfile needs a seekable file.
    return zipfile.ZipFile(io.BytesIO(outer.read(inner[0])))


_TAG = re.compile(r"<[^>]+>")
_BLOCK_END = re.compile(r"</(?:p|div|li|tr|h\d)>|<br\s*/?>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def strip_html(fragment: str) -> str:
    """Paragraph HTML as plain text: tags dropped, entities decoded, one line per block element."""
    text = _BLOCK_END.sub("\n", fragment)
    text = html.unescape(_TAG.sub(" ", text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)
