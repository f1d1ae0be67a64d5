"""SNOMED CT RF2 rows -> typed records: concepts, descriptions, IS-A links, US English language
members and ICD-10-CM extended-map rows (each concept's FSN and US preferred term are chosen in
``loaders.snomed.scratch``).

Every file is tab-delimited UTF-8 with one header row and no quoting (terms hold quotes). A reader
checks the header exactly, the column count of every row and each field's form, and that no row is
dated after the release date in the file name. Full files keep every version of a row: the readers
return the latest row per id (held in a dict, so a Full file is read whole before anything is yielded; a
Snapshot streams, its concept ids remembered in a ``ConceptRegistry``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Protocol, TypeVar

from loaders.errors import ParseError, WrongFileError
from loaders.icd10cm.codes import DOTTED_CODE
from loaders.input_checks import DuplicateKeyError, note_folded, require_rows
from loaders.snomed.release import ReleaseType, Rf2Kind, parse_rf2_name
from loaders.text_lines import decoded_lines, tab_field_at

IS_A = "116680003"
FSN_TYPE = "900000000000003001"
SYNONYM_TYPE = "900000000000013009"
US_ENGLISH_REFSET = "900000000000509007"
PREFERRED = "900000000000548007"
ICD10CM_MAP_REFSET = "6011000124106"
# The first SNOMED CT release (January 2002): no row of any release is dated before it.
FIRST_RELEASE = date(2002, 1, 31)
# Documented caps: RF2 terms are at most 4,096 characters (text definitions; FSNs and synonyms 255); a row is
# refused past this many bytes having read only that much.
MAX_TERM_CHARS = 4_096
MAX_LINE_BYTES = 16 << 10
_CONCEPT_CHUNK = 5000  # concept rows registered per call (a statement per chunk when on disk)

_COLUMNS: dict[Rf2Kind, tuple[str, ...]] = {
    Rf2Kind.CONCEPT: ("id", "effectiveTime", "active", "moduleId", "definitionStatusId"),
    Rf2Kind.DESCRIPTION: (
        "id", "effectiveTime", "active", "moduleId", "conceptId", "languageCode", "typeId", "term",
        "caseSignificanceId",
    ),
    Rf2Kind.RELATIONSHIP: (
        "id", "effectiveTime", "active", "moduleId", "sourceId", "destinationId", "relationshipGroup", "typeId",
        "characteristicTypeId", "modifierId",
    ),
    Rf2Kind.LANGUAGE: (
        "id", "effectiveTime", "active", "moduleId", "refsetId", "referencedComponentId", "acceptabilityId",
    ),
    Rf2Kind.EXTENDED_MAP: (
        "id", "effectiveTime", "active", "moduleId", "refsetId", "referencedComponentId", "mapGroup", "mapPriority",
        "mapRule", "mapAdvice", "mapTarget", "correlationId", "mapCategoryId",
    ),
}  # fmt: skip

# SCTID partition (2nd and 3rd digits from the right): 0 = short form, 1 = namespaced (extension) form.
_CONCEPT, _DESCRIPTION, _RELATIONSHIP = ("00", "10"), ("01", "11"), ("02", "12")
_SCTID = re.compile(r"[1-9]\d{5,17}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ICD10CM_DOTTED = DOTTED_CODE  # any code of the release, QA0.* (second character a letter) too


@dataclass(frozen=True, slots=True)
class SnomedConcept:
    id: str
    effective_time: date
    active: bool
    module_id: str
    definition_status_id: str  # 900000000000074008 primitive, 900000000000073002 fully defined


@dataclass(frozen=True, slots=True)
class SnomedDescription:
    id: str
    concept_id: str
    language: str
    type_id: str  # FSN_TYPE or SYNONYM_TYPE (text definitions live in another file)
    term: str
    active: bool
    effective_time: date


@dataclass(frozen=True, slots=True)
class SnomedIsA:
    child_id: str
    parent_id: str
    active: bool  # inactive rows are kept so a load can retire the edge (unless another row keeps it)
    effective_time: date
    relationship_id: str  # one child/parent pair can have several relationship ids over time


@dataclass(frozen=True, slots=True)
class SnomedLanguageMember:
    description_id: str
    refset_id: str
    acceptability_id: str  # PREFERRED or 900000000000549004 acceptable
    active: bool
    id: str  # member UUID
    effective_time: date


@dataclass(frozen=True, slots=True)
class SnomedMapRow:
    id: str  # member UUID
    concept_id: str
    group: int
    priority: int
    rule: str
    advice: str
    target: str | None  # dotted ICD-10-CM code; None = this group gives no code
    correlation_id: str
    category_id: str  # 447637006 properly classified, 447638001 cannot be classified, 447639009 context dependent...
    active: bool
    effective_time: date


@dataclass(frozen=True, slots=True)
class ConceptTerms:
    concept_id: str
    fsn: str | None
    preferred_term: str | None


@lru_cache(maxsize=4096)  # a release holds a few hundred distinct effectiveTimes across millions of rows
def _yyyymmdd(value: str) -> date:
    if len(value) != 8 or not value.isdigit():
        raise ValueError(value)
    return date(int(value[:4]), int(value[4:6]), int(value[6:]))


class _Row:
    """One data row, with the checks that name its file, line and field."""

    __slots__ = ("cells", "index", "line", "path", "release_date")

    def __init__(self, path: Path, line: int, index: dict[str, int], cells: list[str], release_date: date) -> None:
        self.path, self.line, self.index, self.cells, self.release_date = path, line, index, cells, release_date

    def raw(self, field: str) -> str:
        return self.cells[self.index[field]]

    def fail(self, field: str, expected: str) -> ParseError:
        return ParseError(self.path, self.line, field, expected, self.raw(field))

    def sctid(self, field: str, partitions: tuple[str, ...] = _CONCEPT) -> str:
        value = self.raw(field)
        if not _SCTID.fullmatch(value) or value[-3:-1] not in partitions:
            kind = {_CONCEPT: "concept", _DESCRIPTION: "description", _RELATIONSHIP: "relationship"}[partitions]
            raise self.fail(field, f"a {kind} SCTID (6-18 digits, partition {'/'.join(partitions)})")
        return value

    def member_id(self) -> str:
        value = self.raw("id")
        if not _UUID.fullmatch(value):
            raise self.fail("id", "a lower-case UUID")
        return value

    def active(self) -> bool:
        value = self.raw("active")
        if value not in ("0", "1"):
            raise self.fail("active", "0 or 1")
        return value == "1"

    def effective_time(self) -> date:
        try:
            when = _yyyymmdd(self.raw("effectiveTime"))
        except ValueError:
            raise self.fail("effectiveTime", "a date YYYYMMDD") from None
        if when > self.release_date:
            raise self.fail("effectiveTime", f"a date no later than the release date {self.release_date:%Y%m%d}")
        if when < FIRST_RELEASE:
            raise self.fail("effectiveTime", f"a date on or after the first SNOMED CT release {FIRST_RELEASE:%Y%m%d}")
        self.sctid("moduleId")  # every row names its module; checked here since every reader asks for the time
        return when

    def positive_int(self, field: str) -> int:
        value = self.raw(field)
        if not value.isdigit() or int(value) < 1:
            raise self.fail(field, "a whole number of 1 or more")
        return int(value)


# One pattern per file checks a whole row in one C-level match (the checks of ``_Row`` in one go); only a row it
# refuses goes through ``_Row`` field by field, to name the field. Fields a reader checks only for some rows
# (the map's ICD-10-CM columns) are left open here.
_C = r"([1-9][0-9]{2,14}[01]0[0-9])"  # concept SCTID: 6-18 digits, partition 00/10
_D = r"([1-9][0-9]{2,14}[01]1[0-9])"
_RL = r"([1-9][0-9]{2,14}[01]2[0-9])"
_HEAD = r"([0-9]{8})\t([01])\t" + _C  # effectiveTime, active, moduleId
_U = r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
_ANY = r"([^\t]*)"
_TERM = rf"(?=[^\t]{{1,{MAX_TERM_CHARS}}}\t)([^\t]*?\S[^\t]*)"  # not blank, at most MAX_TERM_CHARS
_FAST: dict[Rf2Kind, re.Pattern[str]] = {
    kind: re.compile("\\t".join(fields))
    for kind, fields in {
        Rf2Kind.CONCEPT: (_C, _HEAD, _C),
        Rf2Kind.DESCRIPTION: (_D, _HEAD, _C, "([a-z]{2})", _C, _TERM, _C),
        Rf2Kind.RELATIONSHIP: (_RL, _HEAD, _C, _C, "([0-9]+)", _C, _C, _C),
        Rf2Kind.LANGUAGE: (_U, _HEAD, _C, _D, _C),
        Rf2Kind.EXTENDED_MAP: (_U, _HEAD, _C, *([_ANY] * 8)),
    }.items()
}


@lru_cache(maxsize=4096)
def _valid_time(value: str, release_date: date) -> bool:
    try:
        return FIRST_RELEASE <= _yyyymmdd(value) <= release_date
    except ValueError:
        return False


def _rows(path: Path, kind: Rf2Kind, check: Callable[[_Row], object]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of the data rows of an RF2 file of ``kind``, each checked; raises WrongFileError
    for another file's name or header, and ParseError naming file, line and field for a bad row (``check``
    runs the field-by-field checks on a row the fast pattern refused)."""
    name = parse_rf2_name(path)
    if name is None or name.kind is not kind:
        found = f"{name.kind} file" if name else path.name
        raise WrongFileError(path, None, "file name", f"a {kind}_<Snapshot|Full>_..._<YYYYMMDD>.txt file", found)
    columns = _COLUMNS[kind]
    index = {column: position for position, column in enumerate(columns)}
    fast = _FAST[kind].fullmatch
    released = name.release_date
    lines = decoded_lines(path, max_line_bytes=MAX_LINE_BYTES, field_at=tab_field_at(columns))
    header = next(lines, None)
    if header is None or tuple(header.text.split("\t")) != columns:
        found = header.text[:200] if header is not None else "an empty file"
        raise WrongFileError(path, 1, "header", "\t".join(columns), found)
    blank: int | None = None
    for line in lines:
        text = line.text
        match = fast(text) if blank is None else None
        if match is not None and _valid_time(match[2], released):
            yield line.number, text.split("\t")
            continue
        if not text:
            blank = blank or line.number  # tolerated only at the end of the file
            continue
        if blank is not None:
            raise ParseError(path, blank, None, "a data row (blank lines only at the end)", "")
        cells = text.split("\t")
        if len(cells) != len(columns):
            cut = "" if line.ended else " on a last line with no line ending (file cut short?)"
            raise ParseError(path, line.number, "columns", f"{len(columns)} tab-separated fields", f"{len(cells)}{cut}")
        row = _Row(path, line.number, index, cells, released)
        check(row)  # raises, naming the field
        raise ParseError(path, line.number, None, f"a {kind} row in the RF2 layout", text[:200])


_R = TypeVar("_R")


def _read(path: Path, kind: Rf2Kind, check: Callable[[_Row], object], build: Callable[[list[str]], _R],
          key: Callable[[_R], str], concepts_seen: ConceptRegistry | None = None) -> Iterator[_R]:
    """Records in file order (Snapshot, Delta) or the latest version per id (Full)."""
    name = parse_rf2_name(path)
    if name is not None and name.release_type is ReleaseType.SNAPSHOT and kind is Rf2Kind.CONCEPT:
        yield from _snapshot_concepts(path, kind, check, build, concepts_seen or ConceptsInMemory())
        return
    if name is None or name.release_type is not ReleaseType.FULL:
        for _number, cells in _rows(path, kind, check):
            yield build(cells)
        return
    latest: dict[str, tuple[str, _R]] = {}
    for number, cells in _rows(path, kind, check):
        record = build(cells)
        when = cells[1]  # YYYYMMDD: string order is date order
        seen = latest.get(key(record))
        if seen is not None and seen[0] == when:
            raise ParseError(path, number, "effectiveTime", "one row per id and effectiveTime in a Full file", when)
        if seen is None or when > seen[0]:
            latest[key(record)] = (when, record)
    records = iter([record for _when, record in latest.values()])
    latest.clear()
    # A Full file's ids are unique once folded to their latest rows; registered all the same, the later files'
    # references are checked against them.
    while chunk := list(islice(records, _CONCEPT_CHUNK)):
        if concepts_seen is not None:
            concepts_seen.register_concepts([(int(key(record)), 0, 0) for record in chunk])
        yield from chunk


class ConceptRegistry(Protocol):
    """Where a Snapshot's concept ids are remembered while the file streams (in memory, or on disk for a full
    release: ``loaders.snomed.scratch``)."""

    def register_concepts(self, rows: Sequence[tuple[int, int, int]]) -> list[tuple[int, int]]:
        """Record ``(id, content hash, line)`` rows; per row, the ``(content, line)`` of its id's first row."""
        ...


class ConceptsInMemory:
    """A ``ConceptRegistry`` in a dict (a small release, a test)."""

    def __init__(self) -> None:
        self.first: dict[int, tuple[int, int]] = {}

    def register_concepts(self, rows: Sequence[tuple[int, int, int]]) -> list[tuple[int, int]]:
        return [self.first.setdefault(number, (content, line)) for number, content, line in rows]


def _snapshot_concepts(path: Path, kind: Rf2Kind, check: Callable[[_Row], object],
                       build: Callable[[list[str]], _R], seen: ConceptRegistry) -> Iterator[_R]:
    """A Snapshot holds one row per concept id: the same row twice is folded, an id twice with other attributes
    is refused naming both lines, and a Snapshot without a concept is refused. Each id is registered in ``seen``
    with its row's hash and line, a chunk of rows at a time."""
    concepts = 0
    rows = _rows(path, kind, check)
    while chunk := list(islice(rows, _CONCEPT_CHUNK)):
        firsts = seen.register_concepts([(int(cells[0]), hash(tuple(cells[1:])), number) for number, cells in chunk])
        for (number, cells), (content, line) in zip(chunk, firsts, strict=True):
            if line == number:
                concepts += 1
                yield build(cells)
            elif content == hash(tuple(cells[1:])):
                note_folded(path, "concept")
            else:
                raise DuplicateKeyError(
                    path, number, "id", f"one row per concept id in a Snapshot: concept {cells[0]} is already at "
                    f"line {line} with other attributes", f"duplicate concept {cells[0]}: {' '.join(cells[1:])}")
    require_rows(path, concepts, "concept row")


def _check_concept(row: _Row) -> None:
    row.sctid("id"), row.effective_time(), row.active(), row.sctid("definitionStatusId")


def read_concepts(path: Path, seen: ConceptRegistry | None = None) -> Iterator[SnomedConcept]:
    """``sct2_Concept_<Snapshot|Full>_*.txt`` rows, active and inactive; a Snapshot's ids are registered in
    ``seen`` (a dict when None)."""

    def build(cells: list[str]) -> SnomedConcept:
        return SnomedConcept(cells[0], _yyyymmdd(cells[1]), cells[2] == "1", cells[3], cells[4])

    return _read(path, Rf2Kind.CONCEPT, _check_concept, build, lambda c: c.id, seen)


def _check_description(row: _Row) -> None:
    if not row.raw("term").strip():
        raise row.fail("term", "a non-empty term")
    if len(row.raw("term")) > MAX_TERM_CHARS:
        raise ParseError(row.path, row.line, "term", f"at most {MAX_TERM_CHARS:,} characters",
                         f"{len(row.raw('term')):,} characters")
    if not re.fullmatch(r"[a-z]{2}", row.raw("languageCode")):
        raise row.fail("languageCode", "a two-letter language code")
    row.sctid("caseSignificanceId"), row.sctid("id", _DESCRIPTION), row.sctid("conceptId"), row.sctid("typeId")
    row.active(), row.effective_time()


def read_descriptions(path: Path) -> Iterator[SnomedDescription]:
    """``sct2_Description_<Snapshot|Full>-en_*.txt`` rows (FSNs and synonyms), active and inactive."""

    def build(cells: list[str]) -> SnomedDescription:
        return SnomedDescription(cells[0], cells[4], cells[5], cells[6], cells[7], cells[2] == "1",
                                 _yyyymmdd(cells[1]))

    return _read(path, Rf2Kind.DESCRIPTION, _check_description, build, lambda d: d.id)


def _check_relationship(row: _Row) -> None:
    row.sctid("id", _RELATIONSHIP), row.effective_time(), row.active()
    row.sctid("sourceId"), row.sctid("destinationId"), row.sctid("typeId")
    if not row.raw("relationshipGroup").isdigit():
        raise row.fail("relationshipGroup", "a whole number")
    row.sctid("characteristicTypeId"), row.sctid("modifierId")


def read_is_a(path: Path) -> Iterator[SnomedIsA]:
    """IS-A links (typeId 116680003) of ``sct2_Relationship_*``, active and inactive.

    Rows of other types (finding site, ...) are checked but not yielded."""

    def build(cells: list[str]) -> tuple[str, SnomedIsA | None]:
        if cells[7] != IS_A:
            return cells[0], None
        return cells[0], SnomedIsA(cells[4], cells[5], cells[2] == "1", _yyyymmdd(cells[1]), cells[0])

    for _id, link in _read(path, Rf2Kind.RELATIONSHIP, _check_relationship, build, lambda pair: pair[0]):
        if link is not None:
            yield link


def _check_language_member(row: _Row) -> None:
    row.sctid("referencedComponentId", _DESCRIPTION), row.sctid("refsetId"), row.sctid("acceptabilityId")
    row.active(), row.member_id(), row.effective_time()


def read_language_members(path: Path, refset_id: str | None = US_ENGLISH_REFSET) -> Iterator[SnomedLanguageMember]:
    """``der2_cRefset_Language*-en_*`` members of ``refset_id`` (None = every language refset in the file)."""

    def build(cells: list[str]) -> SnomedLanguageMember:
        return SnomedLanguageMember(cells[5], cells[4], cells[6], cells[2] == "1", cells[0], _yyyymmdd(cells[1]))

    for member in _read(path, Rf2Kind.LANGUAGE, _check_language_member, build, lambda m: m.id):
        if refset_id is None or member.refset_id == refset_id:
            yield member


def _check_map_member(row: _Row) -> None:
    row.member_id(), row.effective_time(), row.active(), row.sctid("refsetId")


_POSITIVE = re.compile(r"0*[1-9][0-9]*")


def read_extended_map(path: Path, refset_id: str = ICD10CM_MAP_REFSET) -> Iterator[SnomedMapRow]:
    """Rows of the SNOMED CT to ICD-10-CM map (``der2_iisssccRefset_ExtendedMap*``).

    The US package also ships other extended maps (e.g. 447562003, WHO ICD-10) in this file: they are skipped."""
    index = {column: position for position, column in enumerate(_COLUMNS[Rf2Kind.EXTENDED_MAP])}
    released = parse_rf2_name(path)

    def check_mapping(cells: list[str], number: int) -> None:
        # The ICD-10-CM columns, checked only on this refset's rows (other maps have other target forms).
        assert released is not None
        row = _Row(path, number, index, cells, released.release_date)
        row.sctid("referencedComponentId")
        row.positive_int("mapGroup"), row.positive_int("mapPriority")
        if not row.raw("mapRule").strip():
            raise row.fail("mapRule", "a rule such as TRUE, OTHERWISE TRUE or IFA <sctid> | <term> |")
        target = row.raw("mapTarget")
        if target and not _ICD10CM_DOTTED.fullmatch(target):
            raise row.fail("mapTarget", "empty or a dotted ICD-10-CM code such as I50.9")
        row.sctid("correlationId"), row.sctid("mapCategoryId")

    def build(cells: list[str]) -> tuple[str, list[str]]:
        return cells[0], cells

    # Full: the latest version per member id must be judged before the refset filter, so key rows by id.
    rows = _read(path, Rf2Kind.EXTENDED_MAP, _check_map_member, build, lambda pair: pair[0])
    for number, (_id, cells) in enumerate(rows, start=2):
        if cells[4] != refset_id:
            continue
        concept, group, priority, rule, target = cells[5], cells[6], cells[7], cells[8], cells[10]
        if not (_FAST_SCTID(concept) and _POSITIVE.fullmatch(group) and _POSITIVE.fullmatch(priority)
                and rule.strip() and (not target or _ICD10CM_DOTTED.fullmatch(target))
                and _FAST_SCTID(cells[11]) and _FAST_SCTID(cells[12])):
            check_mapping(cells, _line_of_member(path, cells[0]) or number)
        yield SnomedMapRow(
            id=cells[0], concept_id=concept, group=int(group), priority=int(priority), rule=rule,
            advice=cells[9], target=target or None, correlation_id=cells[11], category_id=cells[12],
            active=cells[2] == "1", effective_time=_yyyymmdd(cells[1]),
        )


_FAST_SCTID = re.compile(_C).fullmatch


def _line_of_member(path: Path, member_id: str) -> int | None:
    """The line of a map member (read again only to name the line of a bad row)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.startswith(member_id.encode()):
                return number
    return None
