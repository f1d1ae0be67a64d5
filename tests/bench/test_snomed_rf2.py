"""The synthetic SNOMED CT release generator: the loader's own readers accept it, in the stated proportions."""

from __future__ import annotations

from pathlib import Path

from bench.snomed_rf2 import generate
from loaders.snomed.release import find_release_files
from loaders.snomed.rf2 import (
    read_concepts,
    read_descriptions,
    read_extended_map,
    read_is_a,
    read_language_members,
)
from loaders.snomed.scratch import concept_terms


def test_a_generated_release_reads_back_with_us_edition_proportions(tmp_path: Path) -> None:
    made = generate(tmp_path, 3000, seed=3)
    files = find_release_files(made.package)
    assert (files.namespace, f"{files.release_date:%Y%m%d}") == ("US1000124", "20250301")
    assert files.relationships and files.language and files.extended_map
    concepts = {c.id: c for c in read_concepts(files.concepts)}
    assert len(concepts) == 3000
    assert 3.1 < made.descriptions / 3000 < 3.6 and 3.8 < made.relationships / 3000 < 4.5
    terms = concept_terms(read_descriptions(files.descriptions), read_language_members(files.language))
    assert all(t.fsn and t.preferred_term for t in terms.values()) and len(terms) == 3000
    links = list(read_is_a(files.relationships))
    assert all(link.child_id in concepts and link.parent_id in concepts for link in links)
    active_parents = {link.child_id for link in links if link.active}
    assert all(concepts[c].active for c in active_parents)  # retired concepts have no active IS-A
    rows = list(read_extended_map(files.extended_map))
    assert len(rows) == made.map_rows and all(r.concept_id in concepts for r in rows)
    assert {r.rule.split(" ")[0] for r in rows} == {"TRUE", "IFA", "OTHERWISE"}
    assert any(r.target is None for r in rows)  # "cannot be classified" rows carry no target


def test_the_same_seed_gives_the_same_files(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", 500, seed=9)
    second = generate(tmp_path / "b", 500, seed=9)
    for path in sorted(first.package.rglob("*.txt")):
        assert path.read_bytes() == (second.package / path.relative_to(first.package)).read_bytes()
