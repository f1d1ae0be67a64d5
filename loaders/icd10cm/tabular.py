"""Parse the ICD-10-CM tabular XML (``icd10cm-tabular-<FY>.xml``) into chapters, sections, codes and notes.

The XML lists each code that needs a 7th character once (``S02.0``); the billable 7th-character
codes (``S02.0XXA`` …) are generated here from the nearest ``sevenChrDef`` on the code or an ancestor.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lxml import etree

from loaders.errors import ParseError, WrongFileError
from loaders.icd10cm.codes import CATEGORY, DOTTED_CODE, add_dot, strip_dot
from loaders.input_checks import RepeatedKeys, check_width
from loaders.xml_safety import parse_safely, xml_path

CodeKind = Literal["category", "subcategory", "code"]
NoteKind = Literal[
    "excludes1", "excludes2", "code_first", "use_additional", "code_also",
    "includes", "inclusion", "notes", "seven_chr_note",
]  # fmt: skip
SourceKind = Literal["chapter", "section", "code"]

# XML element -> note kind; any other element is tolerated and ignored.
NOTE_ELEMENTS: dict[str, NoteKind] = {
    "excludes1": "excludes1",
    "excludes2": "excludes2",
    "codeFirst": "code_first",
    "useAdditionalCode": "use_additional",
    "codeAlso": "code_also",
    "includes": "includes",
    "inclusionTerm": "inclusion",
    "notes": "notes",
    "sevenChrNote": "seven_chr_note",
}
# Titles end in their range, "(A00-B99)", or in one category for one-category sections, "(B10)".
_TITLE_RANGE = re.compile(rf"^(?P<title>.*?)\s*\((?P<first>{CATEGORY})(?:-(?P<last>{CATEGORY}))?\)\s*$")
# A section id is a range "A00-A09", or a lone category "B10" (then it equals that category's code).
_SECTION_ID = re.compile(rf"(?P<first>{CATEGORY})(?:-(?P<last>{CATEGORY}))?")
_EXTENSION_CHAR = re.compile(r"[0-9A-Z]")
# Documented caps (the FY2026 file: titles up to 206 characters, notes up to 809, nesting 9 deep, 10 MB).
MAX_WIDTH = {"desc": 1_000, "note": 4_000}
MAX_DEPTH = 32
MAX_FILE_BYTES = 64 << 20

# Limits the XML states only in prose, kept as data: category -> (6th characters, 7th characters barred).
# S06 <notes>: "7th characters D and S do not apply to codes in category S06 with 6th character 7 ... or 8".
SEVENTH_CHARACTER_EXCEPTIONS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "S06": (frozenset("78"), frozenset("DS")),
}


@dataclass(frozen=True, slots=True)
class Icd10cmChapter:
    number: int
    title: str  # without the trailing "(A00-B99)"
    first: str
    last: str


@dataclass(frozen=True, slots=True)
class Icd10cmSection:
    id: str  # "A00-A09"
    title: str  # without the trailing range
    chapter: int
    first: str
    last: str


@dataclass(frozen=True, slots=True)
class Icd10cmCode:
    code: str  # dotted
    title: str
    parent: str  # dotted parent code, or the section id for a category
    chapter: int
    section: str
    kind: CodeKind
    billable: bool
    generated_7th: bool
    inclusion_terms: tuple[str, ...]
    depth: int  # category = 1, each nested diag or 7th character adds 1


@dataclass(frozen=True, slots=True)
class Icd10cmNote:
    source: str  # dotted code, section id, or chapter number as text
    source_kind: SourceKind
    kind: NoteKind
    text: str


TabularRecord = Icd10cmChapter | Icd10cmSection | Icd10cmCode | Icd10cmNote
SeventhCharacters = tuple[tuple[str, str], ...]  # (character, meaning) in file order


def expand_seventh_character(code: str, title: str, extensions: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The 7th-character codes of ``code``: pad with placeholder X to 6 characters, then add each 7th.

    ``expand_seventh_character("S02.0", "Fracture of vault of skull", [("A", "initial encounter …")])``
    gives ``[("S02.0XXA", "Fracture of vault of skull, initial encounter …")]``.
    """
    bare = strip_dot(code)
    if len(bare) > 6:
        raise ValueError(f"{code} already has 7 characters; it cannot take a 7th")
    stem = bare.ljust(6, "X")
    return [(add_dot(stem + char), f"{title}, {meaning}") for char, meaning in extensions]


def _text(element: etree._Element) -> str:
    # Collapse the indentation whitespace some elements carry (e.g. sectionRef bodies). Most elements are leaves
    # (a code's name and desc, a note): their own text is all of it, without walking an iterator.
    if len(element) == 0:
        text = element.text
        return " ".join(text.split()) if text else ""
    return " ".join("".join(element.itertext()).split())


def _child_text(path: Path, element: etree._Element, tag: str) -> str:
    return _required_text(path, element, element.find(tag), tag)


def _required_text(path: Path, element: etree._Element, child: etree._Element | None, tag: str) -> str:
    text = _text(child) if child is not None else ""
    if not text:
        raise ParseError(path, element.sourceline, tag, f"a non-empty <{tag}> in <{element.tag}>", "nothing")
    return text


def _note_kind(element: etree._Element) -> NoteKind | None:
    return NOTE_ELEMENTS.get(element.tag) if isinstance(element.tag, str) else None  # a comment's tag is not


def _note_texts(element: etree._Element) -> list[str]:
    """The non-empty texts of the ``<note>``s of a note element (``<excludes1>``, ``<inclusionTerm>``, …)."""
    return [text for note in element.iter("note") if (text := _text(note))]


def _notes(element: etree._Element, source: str, source_kind: SourceKind) -> Iterator[Icd10cmNote]:
    for child in element:
        if (kind := _note_kind(child)) is not None:
            for text in _note_texts(child):
                yield Icd10cmNote(source, source_kind, kind, text)


def _seven_chr_def(path: Path, definition: etree._Element) -> SeventhCharacters:
    pairs: list[tuple[str, str]] = []
    for extension in definition.iter("extension"):
        char = (extension.get("char") or "").strip()
        if not _EXTENSION_CHAR.fullmatch(char):
            raise ParseError(path, extension.sourceline, "extension/@char", "one character 0-9 or A-Z", char)
        pairs.append((char, _text(extension)))
    if not pairs:
        raise ParseError(path, definition.sourceline, "sevenChrDef", "at least one <extension>", "none")
    return tuple(pairs)


def _applicable(code: str, seventh: SeventhCharacters) -> SeventhCharacters:
    bare = strip_dot(code)
    sixth, barred = SEVENTH_CHARACTER_EXCEPTIONS.get(bare[:3], (frozenset(), frozenset()))
    if len(bare) == 6 and bare[5] in sixth:
        return tuple((char, meaning) for char, meaning in seventh if char not in barred)
    return seventh


@dataclass(frozen=True, slots=True)
class _Place:
    chapter: int
    section: str
    codes: RepeatedKeys[str, tuple[str, str]]  # every code of the file so far: (title, parent)


def _diag(
    path: Path,
    diag: etree._Element,
    parent: str,
    place: _Place,
    depth: int,
    inherited: SeventhCharacters | None,
    out: list[TabularRecord],
) -> None:
    """The code of ``diag``, its notes, its generated 7th-character codes and its subtree, appended to ``out`` in
    file order (a list, not nested generators: every record used to pass through one generator per level)."""
    # One pass over the children: a diag holds its name, desc, notes, 7th-character definition and subcodes.
    name = desc = definition = None
    children: list[etree._Element] = []
    notes: list[tuple[NoteKind, list[str]]] = []
    for child in diag:  # the first name, desc and sevenChrDef count, as find() took them
        tag = child.tag
        if tag == "diag":
            children.append(child)
        elif tag == "name" and name is None:
            name = child
        elif tag == "desc" and desc is None:
            desc = child
        elif tag == "sevenChrDef" and definition is None:
            definition = child
        elif (kind := _note_kind(child)) is not None:
            notes.append((kind, _note_texts(child)))
    code = _required_text(path, diag, name, "name")
    if not DOTTED_CODE.fullmatch(code):
        raise ParseError(path, diag.sourceline, "name", "an ICD-10-CM code such as A00 or S02.0XX", code)
    bare = strip_dot(code)
    if depth > 1 and not bare.startswith(strip_dot(parent)):
        raise ParseError(path, diag.sourceline, "name", f"a code under its parent {parent}", code)
    title = _required_text(path, diag, desc, "desc")
    line = diag.sourceline
    if not place.codes.first(code, (title, parent), path, line, field_name=lambda: xml_path(diag) + "/name"):
        return  # the same code, title and parent again: folded with its subtree
    # A deeper definition overrides the ancestor's.
    seventh = _seven_chr_def(path, definition) if definition is not None else inherited
    needs_seventh = not children and seventh is not None
    billable = not children and not needs_seventh
    kind: CodeKind = "category" if depth == 1 else ("code" if billable else "subcategory")
    inclusion = tuple(t for note_kind, texts in notes if note_kind == "inclusion" for t in texts)
    out.append(Icd10cmCode(code, title, parent, place.chapter, place.section, kind, billable, False, inclusion, depth))
    out.extend(Icd10cmNote(code, "code", note_kind, t) for note_kind, texts in notes for t in texts)
    if needs_seventh:
        assert seventh is not None
        if len(bare) > 6:
            raise ParseError(path, line, "sevenChrDef", "a code of at most 6 characters", code)
        for extended, extended_title in expand_seventh_character(code, title, _applicable(code, seventh)):
            if place.codes.first(extended, (extended_title, code), path, line,
                                 field_name=lambda: xml_path(diag) + "/sevenChrDef"):
                out.append(Icd10cmCode(extended, extended_title, code, place.chapter, place.section, "code", True,
                                       True, (), depth + 1))
    for child in children:
        _diag(path, child, code, place, depth + 1, seventh, out)


def _parse_root(path: Path) -> etree._Element:
    # No entity resolved, no DOCTYPE, depth and size capped (loaders/xml_safety.py).
    root = parse_safely(path, max_bytes=MAX_FILE_BYTES, max_depth=MAX_DEPTH, what="ICD-10-CM tabular XML")
    for element in root.iter(*MAX_WIDTH):
        text = _text(element)
        if len(text) > MAX_WIDTH[element.tag]:
            check_width(path, element.sourceline, xml_path(element), text, MAX_WIDTH[element.tag])
    if root.tag != "ICD10CM.tabular":
        system = "ICD-10-PCS tables" if root.tag == "ICD10PCS.tabular" else "another file"
        raise WrongFileError(path, root.sourceline, "root element", "<ICD10CM.tabular>", f"<{root.tag}> ({system})")
    if root.find("chapter") is None:
        raise ParseError(path, root.sourceline, "chapter", "at least one <chapter>", "none")
    return root


def read_tabular_version(path: Path) -> str:
    """The ``<version>`` of a tabular file (e.g. "2026"); the April update carries the same year."""
    root = _parse_root(path)
    version = root.find("version")
    return _text(version) if version is not None else ""


def parse_icd10cm_tabular(path: Path) -> Iterator[TabularRecord]:
    """Yield every chapter, section, code (with generated 7th-character codes) and note, in file order.

    A code's notes follow the code; a chapter's and section's notes follow them.
    """
    root = _parse_root(path)
    codes: RepeatedKeys[str, tuple[str, str]] = RepeatedKeys("code", "desc", describe=lambda v: f"title {v[0]!r}")
    for chapter in root.iterfind("chapter"):
        number_text = _child_text(path, chapter, "name")
        if not number_text.isdigit():
            raise ParseError(path, chapter.sourceline, "name", "a chapter number", number_text)
        number = int(number_text)
        desc = _child_text(path, chapter, "desc")
        titled = _TITLE_RANGE.match(desc)
        if titled is None:
            raise ParseError(path, chapter.sourceline, "desc", "a chapter title ending in (A00-B99)", desc)
        yield Icd10cmChapter(number, titled["title"], titled["first"], titled["last"] or titled["first"])
        yield from _notes(chapter, str(number), "chapter")
        for section in chapter.iterfind("section"):
            section_id = section.get("id") or ""
            section_range = _SECTION_ID.fullmatch(section_id)
            if section_range is None:
                raise ParseError(path, section.sourceline, "section/@id", "a range id such as A00-A09", section_id)
            desc = _child_text(path, section, "desc")
            titled = _TITLE_RANGE.match(desc)
            first, last = section_range["first"], section_range["last"] or section_range["first"]
            yield Icd10cmSection(section_id, titled["title"] if titled else desc, number, first, last)
            yield from _notes(section, section_id, "section")
            place = _Place(number, section_id, codes)
            for diag in section.iterfind("diag"):
                records: list[TabularRecord] = []
                _diag(path, diag, section_id, place, 1, None, records)
                yield from records
