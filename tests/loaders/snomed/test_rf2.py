"""SNOMED CT RF2 fixture release: files found by name, rows read exactly, Full keeps the latest row per id."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from loaders.errors import ParseError, WrongFileError
from loaders.snomed.release import ReleaseType, Rf2Kind, find_release_files, parse_rf2_name
from loaders.snomed.rf2 import (
    read_concepts,
    read_descriptions,
    read_extended_map,
    read_is_a,
    read_language_members,
)
from loaders.snomed.scratch import concept_terms

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "snomed"
PACKAGE = FIXTURES / "SnomedCT_USEditionRF2_PRODUCTION_20250301T120000Z"
TERMINOLOGY = PACKAGE / "Snapshot" / "Terminology"
CONCEPTS = TERMINOLOGY / "sct2_Concept_Snapshot_US1000124_20250301.txt"
DESCRIPTIONS = TERMINOLOGY / "sct2_Description_Snapshot-en_US1000124_20250301.txt"
RELATIONSHIPS = TERMINOLOGY / "sct2_Relationship_Snapshot_US1000124_20250301.txt"
LANGUAGE = PACKAGE / "Snapshot" / "Refset" / "Language" / "der2_cRefset_LanguageSnapshot-en_US1000124_20250301.txt"
MAP = PACKAGE / "Snapshot" / "Refset" / "Map" / "der2_iisssccRefset_ExtendedMapSnapshot_US1000124_20250301.txt"
FULL = PACKAGE / "Full" / "Terminology"


def _copy(source: Path, directory: Path, name: str | None = None) -> Path:
    target = directory / (name or source.name)
    shutil.copy(source, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    raw = path.read_bytes()
    assert old.encode() in raw
    path.write_bytes(raw.replace(old.encode(), new.encode(), 1))


def _line_of(path: Path, text: str) -> int:
    lines = path.read_bytes().decode("utf-8").split("\r\n")
    return next(number for number, line in enumerate(lines, start=1) if text in line)


# --- finding the files ---------------------------------------------------------------------------------------------


def test_snapshot_files_are_found_by_name_and_siblings_are_left_alone() -> None:
    release = find_release_files(FIXTURES)
    assert (release.release_type, release.namespace, release.release_date) == (
        ReleaseType.SNAPSHOT,
        "US1000124",
        date(2025, 3, 1),
    )
    assert (release.concepts, release.descriptions, release.relationships) == (CONCEPTS, DESCRIPTIONS, RELATIONSHIPS)
    assert (release.language, release.extended_map) == (LANGUAGE, MAP)


def test_stated_relationships_and_text_definitions_are_not_mistaken_for_ours() -> None:
    assert parse_rf2_name(TERMINOLOGY / "sct2_StatedRelationship_Snapshot_US1000124_20250301.txt") is None
    assert parse_rf2_name(TERMINOLOGY / "sct2_TextDefinition_Snapshot-en_US1000124_20250301.txt") is None
    assert parse_rf2_name(Path("sct2_RelationshipConcreteValues_Snapshot_INT_20250101.txt")) is None


def test_names_match_case_insensitively() -> None:
    name = parse_rf2_name(Path("DER2_IISSSCCREFSET_EXTENDEDMAPFULL_US1000124_20250301.TXT"))
    assert name is not None
    assert (name.kind, name.release_type) == (Rf2Kind.EXTENDED_MAP, ReleaseType.FULL)


def test_full_release_has_only_concepts_and_descriptions_in_the_fixture() -> None:
    release = find_release_files(PACKAGE, "Full")
    assert release.concepts.parent == FULL
    assert (release.relationships, release.language, release.extended_map) == (None, None, None)


def test_a_directory_without_a_concept_file_is_refused(tmp_path: Path) -> None:
    _copy(DESCRIPTIONS, tmp_path)
    with pytest.raises(WrongFileError) as caught:
        find_release_files(tmp_path)
    assert "sct2_Concept_Snapshot" in caught.value.expected


def test_files_from_two_releases_are_refused(tmp_path: Path) -> None:
    _copy(CONCEPTS, tmp_path)
    _copy(DESCRIPTIONS, tmp_path, "sct2_Description_Snapshot-en_US1000124_20240901.txt")
    with pytest.raises(WrongFileError) as caught:
        find_release_files(tmp_path)
    assert caught.value.file.endswith("_20240901.txt")
    assert caught.value.found == "US1000124_20240901"


def test_two_concept_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    _copy(CONCEPTS, tmp_path)
    _copy(CONCEPTS, tmp_path / "a")
    _copy(DESCRIPTIONS, tmp_path)
    with pytest.raises(WrongFileError, match="one sct2_Concept Snapshot file"):
        find_release_files(tmp_path)


# --- reading the rows ----------------------------------------------------------------------------------------------


def test_concepts_carry_status_module_and_definition() -> None:
    concepts = {c.id: c for c in read_concepts(CONCEPTS)}
    assert len(concepts) == 46
    heart_failure = concepts["84114007"]
    assert heart_failure.active and heart_failure.module_id == "900000000000207008"
    assert heart_failure.definition_status_id == "900000000000073002"  # fully defined
    assert not concepts["195111005"].active
    assert concepts["195111005"].effective_time == date(2025, 3, 1)


def test_descriptions_keep_quotes_in_terms_since_rf2_has_no_quoting() -> None:
    descriptions = list(read_descriptions(DESCRIPTIONS))
    assert len(descriptions) == 96
    tia = [d.term for d in descriptions if d.concept_id == "266257000"]
    assert '"Mini stroke"' in tia


def test_is_a_links_only_with_inactive_ones_flagged() -> None:
    links = list(read_is_a(RELATIONSHIPS))
    assert len(links) == 47  # 49 rows less 2 finding-site rows
    pairs = {(link.child_id, link.parent_id): link for link in links}
    assert pairs[("127013003", "73211009")].active and pairs[("127013003", "90708001")].active
    assert not pairs[("85232009", "56265001")].active  # a retired parent
    assert ("84114007", "80891009") not in pairs  # finding site, not IS-A


def test_language_members_default_to_us_english() -> None:
    us = list(read_language_members(LANGUAGE))
    every = list(read_language_members(LANGUAGE, refset_id=None))
    assert {m.refset_id for m in us} == {"900000000000509007"}
    assert len(us) == 95 and len(every) == 190


def test_fsn_and_us_preferred_term_per_concept() -> None:
    terms = concept_terms(read_descriptions(DESCRIPTIONS), read_language_members(LANGUAGE))
    assert terms["84114007"].fsn == "Heart failure (disorder)"
    assert terms["84114007"].preferred_term == "Heart failure"  # not the retired "Cardiac failure (old)"
    assert terms["271737000"].preferred_term == "Anemia"  # GB prefers "Anaemia"
    assert terms["38341003"].preferred_term == "Hypertension"  # "High blood pressure" is only acceptable


def test_gb_english_gives_the_gb_preferred_term() -> None:
    terms = concept_terms(
        read_descriptions(DESCRIPTIONS), read_language_members(LANGUAGE, None), refset_id="900000000000508004"
    )
    assert terms["271737000"].preferred_term == "Anaemia"


def test_map_rows_are_the_icd10cm_refset_only_with_dotted_targets() -> None:
    rows = list(read_extended_map(MAP))
    assert len(rows) == 45  # the WHO ICD-10 row (refset 447562003) is skipped
    diabetic_kidney = sorted((r.group, r.priority, r.target) for r in rows if r.concept_id == "127013003")
    assert diabetic_kidney == [(1, 1, "E11.21"), (2, 1, "I12.9"), (2, 2, None)]
    retired = [r for r in rows if r.concept_id == "42343007" and not r.active]
    assert len(retired) == 1 and retired[0].effective_time == date(2019, 3, 1)
    heart_failure = next(r for r in rows if r.concept_id == "84114007")
    assert (heart_failure.rule, heart_failure.advice) == ("TRUE", "ALWAYS I50.9")
    assert heart_failure.category_id == "447637006"  # properly classified


# --- Full files ----------------------------------------------------------------------------------------------------


def test_full_concepts_keep_the_latest_row_per_id() -> None:
    concepts = {c.id: c for c in read_concepts(FULL / "sct2_Concept_Full_US1000124_20250301.txt")}
    assert len(concepts) == 4
    assert not concepts["195111005"].active  # inactivated in the 20250301 row
    assert concepts["85232009"].effective_time == date(2023, 1, 31)
    assert concepts["85232009"].definition_status_id == "900000000000073002"
    snapshot = {c.id: c for c in read_concepts(CONCEPTS)}
    assert all(snapshot[cid] == concept for cid, concept in concepts.items())


def test_full_descriptions_keep_the_latest_row_per_id() -> None:
    descriptions = list(read_descriptions(FULL / "sct2_Description_Full-en_US1000124_20250301.txt"))
    assert len(descriptions) == 3
    retired = next(d for d in descriptions if d.concept_id == "195111005")
    assert (retired.active, retired.effective_time) == (False, date(2025, 3, 1))


def test_full_rows_repeating_an_id_and_time_are_refused(tmp_path: Path) -> None:
    path = _copy(FULL / "sct2_Concept_Full_US1000124_20250301.txt", tmp_path)
    with path.open("ab") as handle:
        handle.write(b"42343007\t20020131\t0\t900000000000207008\t900000000000074008\r\n")
    with pytest.raises(ParseError) as caught:
        list(read_concepts(path))
    assert (caught.value.line, caught.value.field) == (8, "effectiveTime")


# --- bad input -----------------------------------------------------------------------------------------------------


def test_a_description_file_passed_as_concepts_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(WrongFileError) as caught:
        list(read_concepts(DESCRIPTIONS))
    assert caught.value.field == "file name" and "sct2_Description" in str(caught.value.found)


def test_a_file_whose_header_is_another_layout_is_refused(tmp_path: Path) -> None:
    renamed = _copy(RELATIONSHIPS, tmp_path, CONCEPTS.name)
    with pytest.raises(WrongFileError) as caught:
        list(read_concepts(renamed))
    assert (caught.value.file, caught.value.line, caught.value.field) == (str(renamed), 1, "header")


def test_a_truncated_last_row_names_its_line(tmp_path: Path) -> None:
    path = _copy(CONCEPTS, tmp_path)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(ParseError) as caught:
        list(read_concepts(path))
    assert (caught.value.line, caught.value.field) == (47, "columns")
    assert "cut short" in str(caught.value.found)


def test_a_bad_active_flag_names_file_line_and_field(tmp_path: Path) -> None:
    path = _copy(CONCEPTS, tmp_path)
    _edit(path, "64572001\t20020131\t1\t", "64572001\t20020131\tY\t")
    with pytest.raises(ParseError) as caught:
        list(read_concepts(path))
    error = caught.value
    assert (error.file, error.line, error.field, error.found) == (str(path), 4, "active", "Y")


def test_a_row_dated_after_the_release_is_refused(tmp_path: Path) -> None:
    path = _copy(CONCEPTS, tmp_path)
    _edit(path, "64572001\t20020131", "64572001\t20250901")
    with pytest.raises(ParseError, match="no later than the release date 20250301") as caught:
        list(read_concepts(path))
    assert caught.value.field == "effectiveTime"


def test_a_description_id_in_the_concept_partition_is_refused(tmp_path: Path) -> None:
    path = _copy(LANGUAGE, tmp_path)
    with path.open("ab") as handle:
        handle.write(
            b"0b9e1d3c-0000-5000-8000-000000000000\t20020131\t1\t900000000000207008\t900000000000509007"
            b"\t84114007\t900000000000548007\r\n"
        )
    with pytest.raises(ParseError) as caught:
        list(read_language_members(path))
    assert (caught.value.line, caught.value.field) == (192, "referencedComponentId")


def test_an_undotted_map_target_is_refused(tmp_path: Path) -> None:
    path = _copy(MAP, tmp_path)
    _edit(path, "\tI50.1\t", "\tI501\t")
    with pytest.raises(ParseError) as caught:
        list(read_extended_map(path))
    assert (caught.value.line, caught.value.field, caught.value.found) == (_line_of(path, "I501"), "mapTarget", "I501")


def test_mis_encoded_bytes_name_their_line(tmp_path: Path) -> None:
    path = _copy(DESCRIPTIONS, tmp_path)
    _edit(path, "\tAnemia\t", "\tAn\xe6mia\t")
    path.write_bytes(path.read_bytes().replace("An\xe6mia".encode(), b"An\xe6mia"))
    with pytest.raises(ParseError) as caught:
        list(read_descriptions(path))
    assert caught.value.line == _line_of(DESCRIPTIONS, "\tAnemia\t")


def test_a_blank_line_inside_the_file_is_refused_but_trailing_ones_are_tolerated(tmp_path: Path) -> None:
    path = _copy(CONCEPTS, tmp_path)
    path.write_bytes(path.read_bytes() + b"\r\n")
    assert len(list(read_concepts(path))) == 46
    _edit(path, "\r\n64572001", "\r\n\r\n64572001")
    with pytest.raises(ParseError) as caught:
        list(read_concepts(path))
    assert caught.value.line == 4
