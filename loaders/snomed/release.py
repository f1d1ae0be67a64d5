"""Finding the RF2 files of a SNOMED CT release by name, and checking they belong to one release.

RF2 names are ``<prefix>_<content>_<subtype>[-<lang>]_<country/namespace>_<YYYYMMDD>.txt``, e.g.
``sct2_Description_Snapshot-en_US1000124_20250301.txt`` or
``der2_iisssccRefset_ExtendedMapSnapshot_US1000124_20250301.txt``. Siblings we must NOT take:
``sct2_StatedRelationship``, ``sct2_RelationshipConcreteValues``, ``sct2_TextDefinition``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path

from loaders.errors import WrongFileError

_RF2_NAME = re.compile(
    r"^(?P<prefix>sct2|der2)_(?P<content>[a-z]+)_(?P<sub>[a-z]+)(?:-(?P<lang>[a-z]{2}(?:-[a-z]{2})?))?"
    r"_(?P<namespace>[a-z]{2,}\d*)_(?P<date>\d{8})\.txt$",
    re.IGNORECASE,
)


class ReleaseType(StrEnum):
    SNAPSHOT = "Snapshot"
    FULL = "Full"  # every version of every row: readers keep the latest per id
    DELTA = "Delta"


class Rf2Kind(StrEnum):
    CONCEPT = "sct2_Concept"
    DESCRIPTION = "sct2_Description"
    RELATIONSHIP = "sct2_Relationship"
    LANGUAGE = "der2_cRefset_Language"
    EXTENDED_MAP = "der2_iisssccRefset_ExtendedMap"


# (prefix, content, subtype without the release type) -> kind; English only for descriptions and language.
_KINDS = {
    ("sct2", "concept", ""): Rf2Kind.CONCEPT,
    ("sct2", "description", ""): Rf2Kind.DESCRIPTION,
    ("sct2", "relationship", ""): Rf2Kind.RELATIONSHIP,
    ("der2", "crefset", "language"): Rf2Kind.LANGUAGE,
    ("der2", "iisssccrefset", "extendedmap"): Rf2Kind.EXTENDED_MAP,
}
_LANGUAGE_KINDS = {Rf2Kind.DESCRIPTION, Rf2Kind.LANGUAGE}


@dataclass(frozen=True, slots=True)
class Rf2FileName:
    kind: Rf2Kind
    release_type: ReleaseType
    namespace: str  # "US1000124", "INT"
    release_date: date
    language: str | None  # "en" for descriptions and language refsets


def parse_rf2_name(path: Path) -> Rf2FileName | None:
    """What an RF2 file name says about the file, or None when it is not one of the five files we read."""
    match = _RF2_NAME.match(path.name)
    if match is None:
        return None
    sub = match["sub"].lower()
    release_type = next((t for t in ReleaseType if sub.endswith(t.value.lower())), None)
    if release_type is None:
        return None
    kind = _KINDS.get((match["prefix"].lower(), match["content"].lower(), sub.removesuffix(release_type.lower())))
    if kind is None:
        return None
    language = match["lang"].lower() if match["lang"] else None
    if kind in _LANGUAGE_KINDS and (language is None or language.split("-")[0] != "en"):
        return None
    raw = match["date"]
    try:
        released = date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        return None
    return Rf2FileName(kind, release_type, match["namespace"], released, language)


@dataclass(frozen=True, slots=True)
class Rf2Release:
    """The files of one release of one type; language and map files may be absent from a package."""

    root: Path
    release_type: ReleaseType
    namespace: str
    release_date: date
    concepts: Path
    descriptions: Path
    relationships: Path | None
    language: Path | None
    extended_map: Path | None


def find_release_files(root: Path, release_type: ReleaseType | str = ReleaseType.SNAPSHOT) -> Rf2Release:
    """The RF2 files under ``root`` (searched recursively) for ``release_type``, checked to be one release.

    Raises WrongFileError when the concept or description file is missing, when a kind is found twice,
    or when the files disagree on release date or namespace (a mix of two packages).
    """
    wanted = ReleaseType(release_type)
    if not root.is_dir():
        raise WrongFileError(root, None, None, "a directory holding an RF2 release", "not a directory")
    found: dict[Rf2Kind, tuple[Path, Rf2FileName]] = {}
    for path in sorted(root.rglob("*")):
        name = parse_rf2_name(path) if path.is_file() else None
        if name is None or name.release_type is not wanted:
            continue
        if name.kind in found:
            other = found[name.kind][0]
            raise WrongFileError(path, None, "file name", f"one {name.kind} {wanted} file", f"also {other}")
        found[name.kind] = (path, name)
    for required in (Rf2Kind.CONCEPT, Rf2Kind.DESCRIPTION):
        if required not in found:
            raise WrongFileError(
                root, None, "file name", f"a {required}_{wanted}_<namespace>_<YYYYMMDD>.txt file", "none"
            )
    first_path, first = found[Rf2Kind.CONCEPT]
    for path, name in found.values():
        if (name.namespace.upper(), name.release_date) != (first.namespace.upper(), first.release_date):
            raise WrongFileError(
                path,
                None,
                "file name",
                f"release {first.namespace}_{first.release_date:%Y%m%d} like {first_path.name}",
                f"{name.namespace}_{name.release_date:%Y%m%d}",
            )

    def optional(kind: Rf2Kind) -> Path | None:
        return found[kind][0] if kind in found else None

    return Rf2Release(
        root=root,
        release_type=wanted,
        namespace=first.namespace,
        release_date=first.release_date,
        concepts=first_path,
        descriptions=found[Rf2Kind.DESCRIPTION][0],
        relationships=optional(Rf2Kind.RELATIONSHIP),
        language=optional(Rf2Kind.LANGUAGE),
        extended_map=optional(Rf2Kind.EXTENDED_MAP),
    )
