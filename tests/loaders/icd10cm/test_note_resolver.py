"""Note ranges resolved by bisection give exactly the codes a scan of every code would (the scan was slow)."""

from __future__ import annotations

from loaders.icd10cm.codes import in_range
from loaders.icd10cm.note_conditions import Qualifier, parse_qualifier
from loaders.icd10cm.note_refs import NoteReference
from loaders.icd10cm.tabular_model import NoteResolver

CODES = {
    "A04", "A04.0", "A04.1", "A04.3", "A04.31", "A04.39", "A04.4", "A04.5", "A04.8",
    "O99", "O99.8", "O99.89", "O9A", "O9A.2", "O9A.21", "O9A.211", "P00", "P00.0",
    "C49", "C4A", "C4A.0", "C50", "S02.0XXA", "S02.0XXB", "S02.101A",
}
SECTIONS = {"O00-O9A", "A00-A09"}


def scanned(resolver: NoteResolver, first: str, last: str) -> set[str]:
    return {c for c in resolver.codes if len(c) == len(first) and in_range(c, first, last)}


def test_ranges_give_what_a_full_scan_gives() -> None:
    resolver = NoteResolver(CODES | SECTIONS, SECTIONS)
    for first, last in [("A04.0", "A04.4"), ("A04", "A04"), ("O99", "P00"), ("C49", "C50"), ("O9A.2", "O9A.2"),
                        ("A04.3", "A04.39"), ("S02.0XXA", "S02.101A"), ("A05", "A09"), ("B00", "A00")]:
        found = {code for code, scope in resolver.targets(NoteReference("range", first, last))}
        assert found == scanned(resolver, first, last), (first, last)


def test_a_range_that_is_a_section_names_the_section() -> None:
    resolver = NoteResolver(CODES | SECTIONS, SECTIONS)
    assert resolver.targets(NoteReference("range", "O00", "O9A")) == [("O00-O9A", "descendants")]
    assert {c for c, _ in resolver.targets(NoteReference("range", "C49", "C50"))} == {"C49", "C4A", "C50"}


def test_a_range_holding_whole_chapters_or_sections_names_them() -> None:
    # category -> (section, chapter); CH01 holds A00-A09 and B00-B09, CH02 holds C00-C14 and C15-C26.
    enclosing = {"A00": ("A00-A09", "CH01"), "A01": ("A00-A09", "CH01"), "B00": ("B00-B09", "CH01"),
                 "C00": ("C00-C14", "CH02"), "C01": ("C00-C14", "CH02"), "C15": ("C15-C26", "CH02")}
    sections = {"A00-A09", "B00-B09", "C00-C14", "C15-C26"}
    resolver = NoteResolver(set(enclosing) | sections | {"CH01", "CH02"}, sections, enclosing=enclosing)

    def targets(first: str, last: str) -> list[str]:
        found = resolver.targets(NoteReference("range", first, last))
        assert {scope for _, scope in found} == {"descendants"}
        return [code for code, _ in found]

    assert targets("A00", "B00") == ["CH01"]  # "(A00-B99)": the chapter, not its categories
    assert targets("A00", "C00") == ["CH01", "C00"]  # C00-C14 also holds C01, outside the range
    assert targets("A01", "C15") == ["A01", "B00-B09", "CH02"]  # in tabular order
    assert targets("C01", "C01") == ["C01"]


def test_a_qualified_range_is_chosen_once_per_range_and_qualifier() -> None:
    # The resolver keeps what a qualified range selected ("(T36-T65 with …)" is written on ~20 codes): asking again
    # gives the same codes, and another qualifier or another range over the same codes is chosen on its own.
    codes = {"T36", "T36.0", "T36.0X1", "T36.0X5", "T36.1", "T36.1X1", "T36.1X5", "T37", "T37.0", "T37.0X1",
             "T37.0X5"}
    resolver = NoteResolver(codes, set())
    accidental, adverse = parse_qualifier("fifth or sixth character 1"), parse_qualifier("sixth character 5")
    assert accidental is not None and adverse is not None

    def chosen(first: str, last: str, qualifier: Qualifier) -> list[str]:
        return [code for code, _ in resolver.qualified_targets(NoteReference("range", first, last), qualifier)]

    assert chosen("T36", "T37", accidental) == ["T36.0X1", "T36.1X1", "T37.0X1"]
    assert chosen("T36", "T37", adverse) == ["T36.0X5", "T36.1X5", "T37.0X5"]
    assert chosen("T36", "T36", adverse) == ["T36.0X5", "T36.1X5"]
    assert chosen("T36", "T37", accidental) == ["T36.0X1", "T36.1X1", "T37.0X1"]
