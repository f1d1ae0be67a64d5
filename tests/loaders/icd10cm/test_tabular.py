"""The tabular XML parser on a real-layout excerpt (chapters 1 and 19 of the FY2026 tabular)."""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.errors import ParseError, WrongFileError
from loaders.icd10cm.tabular import (
    Icd10cmChapter,
    Icd10cmCode,
    Icd10cmNote,
    Icd10cmSection,
    TabularRecord,
    expand_seventh_character,
    parse_icd10cm_tabular,
    read_tabular_version,
)

FIXTURE = Path(__file__).parents[2] / "fixtures" / "icd10cm" / "icd10cm-tabular-excerpt.xml"


@pytest.fixture(scope="module")
def records() -> list[TabularRecord]:
    return list(parse_icd10cm_tabular(FIXTURE))


@pytest.fixture(scope="module")
def codes(records: list[TabularRecord]) -> dict[str, Icd10cmCode]:
    return {r.code: r for r in records if isinstance(r, Icd10cmCode)}


def test_expand_pads_with_placeholder_x_to_six_characters() -> None:
    extensions = [("A", "initial encounter"), ("S", "sequela")]
    assert expand_seventh_character("S02.0", "Fracture of vault of skull", extensions) == [
        ("S02.0XXA", "Fracture of vault of skull, initial encounter"),
        ("S02.0XXS", "Fracture of vault of skull, sequela"),
    ]
    assert expand_seventh_character("T36.0X1", "Poisoning", extensions)[0][0] == "T36.0X1A"
    assert expand_seventh_character("T79", "Complications", extensions)[0][0] == "T79.XXXA"


def test_expand_refuses_a_code_that_already_has_seven_characters() -> None:
    with pytest.raises(ValueError, match="7 characters"):
        expand_seventh_character("S02.0XXA", "x", [("A", "initial encounter")])


def test_chapters_and_sections_carry_their_ranges(records: list[TabularRecord]) -> None:
    chapters = [r for r in records if isinstance(r, Icd10cmChapter)]
    sections = [r for r in records if isinstance(r, Icd10cmSection)]
    assert chapters[1] == Icd10cmChapter(
        19, "Injury, poisoning and certain other consequences of external causes", "S00", "T88"
    )
    assert sections[0] == Icd10cmSection("A00-A09", "Intestinal infectious diseases", 1, "A00", "A09")
    # A one-category section is named by that category: id B20 equals code B20.
    assert sections[1].id == "B20" and (sections[1].first, sections[1].last) == ("B20", "B20")


def test_category_hangs_from_its_section_and_leaf_is_billable(codes: dict[str, Icd10cmCode]) -> None:
    assert codes["A00"].parent == "A00-A09" and codes["A00"].kind == "category"
    assert not codes["A00"].billable
    assert codes["A00.0"].billable and codes["A00.0"].kind == "code" and codes["A00.0"].depth == 2
    assert codes["A00.0"].inclusion_terms == ("Classical cholera",)
    assert codes["A04.7"].kind == "subcategory" and codes["A04.71"].depth == 3
    assert codes["B20"].kind == "category" and codes["B20"].billable  # a billable 3-character category


def test_code_needing_a_seventh_character_is_not_billable_but_its_extensions_are(
    codes: dict[str, Icd10cmCode],
) -> None:
    base = codes["S02.0"]
    assert not base.billable and base.kind == "subcategory"
    extended = codes["S02.0XXA"]
    assert extended.billable and extended.generated_7th and extended.parent == "S02.0"
    assert extended.title == "Fracture of vault of skull, initial encounter for closed fracture"
    assert (extended.chapter, extended.section, extended.depth) == (19, "S00-S09", 3)
    assert {c for c in codes if c.startswith("S02.0X")} == {f"S02.0XX{ch}" for ch in "ABDGKS"}


def test_placeholder_code_gets_its_seventh_character_without_more_padding(codes: dict[str, Icd10cmCode]) -> None:
    assert codes["T36.0X"].kind == "subcategory"
    assert codes["T36.0X1A"].title == "Poisoning by penicillins, accidental (unintentional), initial encounter"
    assert {c for c in codes if c.startswith("T36.0X5")} == {"T36.0X5", "T36.0X5A", "T36.0X5D", "T36.0X5S"}


def test_deeper_seventh_character_definition_overrides_the_category_one(codes: dict[str, Icd10cmCode]) -> None:
    assert {c for c in codes if c.startswith("S12.8X")} == {"S12.8XXA", "S12.8XXD", "S12.8XXS"}
    assert codes["S12.8XXA"].title == "Fracture of other parts of neck, initial encounter"


def test_s06_death_codes_take_only_the_initial_encounter(codes: dict[str, Icd10cmCode]) -> None:
    assert {c for c in codes if c.startswith("S06.1X7")} == {"S06.1X7", "S06.1X7A"}
    assert {c for c in codes if c.startswith("S06.1X0")} == {"S06.1X0", "S06.1X0A", "S06.1X0D", "S06.1X0S"}


def test_notes_of_every_kind_name_their_source(records: list[TabularRecord]) -> None:
    notes = [r for r in records if isinstance(r, Icd10cmNote)]
    kinds = {n.kind for n in notes}
    expected = {"excludes1", "excludes2", "code_first", "use_additional", "code_also", "includes", "inclusion"}
    assert expected | {"notes", "seven_chr_note"} <= kinds
    assert Icd10cmNote("A04", "code", "excludes1", "bacterial foodborne intoxications, NEC (A05.-)") in notes
    assert Icd10cmNote("S00-S09", "section", "code_also", "for any associated infection") in notes
    assert (
        Icd10cmNote("1", "chapter", "use_additional", "code to identify resistance to antimicrobial drugs (Z16.-)")
        in notes
    )
    assert not any(n.text == "tolerated and ignored" for n in notes)  # an unknown element is skipped


def test_version_is_read() -> None:
    assert read_tabular_version(FIXTURE) == "2026"


def test_truncated_xml_names_file_and_line(tmp_path: Path) -> None:
    truncated = tmp_path / "icd10cm-tabular-2026.xml"
    truncated.write_bytes(FIXTURE.read_bytes()[:4000])
    with pytest.raises(ParseError) as caught:
        list(parse_icd10cm_tabular(truncated))
    assert caught.value.file == str(truncated) and caught.value.line and caught.value.field == "xml"


def test_mis_encoded_xml_is_refused_at_its_line(tmp_path: Path) -> None:
    latin1 = tmp_path / "icd10cm-tabular-2026.xml"
    latin1.write_bytes(FIXTURE.read_bytes().replace(b"Cholera, unspecified", "Choléra".encode("latin-1")))
    with pytest.raises(ParseError) as caught:
        list(parse_icd10cm_tabular(latin1))
    assert caught.value.field == "xml" and caught.value.line == 47


def test_pcs_tables_xml_is_the_wrong_file(tmp_path: Path) -> None:
    pcs = tmp_path / "icd10pcs_tables_2026.xml"
    pcs.write_text('<?xml version="1.0"?>\n<ICD10PCS.tabular>\n  <version>2026</version>\n</ICD10PCS.tabular>\n')
    with pytest.raises(WrongFileError) as caught:
        list(parse_icd10cm_tabular(pcs))
    assert caught.value.line == 2 and caught.value.field == "root element" and "ICD-10-PCS" in str(caught.value)


def test_diag_outside_its_parent_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "icd10cm-tabular-2026.xml"
    broken.write_bytes(FIXTURE.read_bytes().replace(b"<name>A00.9</name>", b"<name>B00.9</name>"))
    with pytest.raises(ParseError) as caught:
        list(parse_icd10cm_tabular(broken))
    assert caught.value.field == "name" and caught.value.found == "B00.9" and caught.value.line == 45
