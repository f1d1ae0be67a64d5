"""The disk-backed state of a streaming SNOMED CT load answers as the in-memory one did, across chunk boundaries."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bench.snomed_rf2 import generate
from loaders.input_checks import DuplicateKeyError
from loaders.snomed.release import find_release_files
from loaders.snomed.rf2 import (
    FSN_TYPE,
    PREFERRED,
    SYNONYM_TYPE,
    US_ENGLISH_REFSET,
    SnomedDescription,
    SnomedLanguageMember,
    read_concepts,
)
from loaders.snomed.scratch import CHUNK, ReleaseScratch

DAY = date(2025, 3, 1)


def _description(number: int, concept: int, kind: str, term: str) -> SnomedDescription:
    return SnomedDescription(str(number), str(concept), "en", kind, term, True, DAY)


def _preferred(description: int) -> SnomedLanguageMember:
    return SnomedLanguageMember(str(description), US_ENGLISH_REFSET, PREFERRED, True, f"m{description}", DAY)


def test_a_repeated_concept_past_the_first_chunk_is_refused_naming_the_first_line(tmp_path: Path) -> None:
    made = generate(tmp_path, CHUNK + 1000, seed=5)
    concepts = find_release_files(made.package).concepts
    lines = concepts.read_bytes().split(b"\r\n")
    first = lines[1].split(b"\t")
    first[4] = b"900000000000073002" if first[4] != b"900000000000073002" else b"900000000000074008"
    concepts.write_bytes(b"\r\n".join([*lines[:-1], b"\t".join(first), b""]))
    with ReleaseScratch() as scratch, pytest.raises(DuplicateKeyError) as refused:
        for _ in read_concepts(concepts, scratch):
            pass
    assert f"concept {first[0].decode()} is already at line 2" in str(refused.value)
    assert f":{len(lines)}:" in str(refused.value)  # the repeat's own line, the file's last


def test_concept_ids_registered_in_chunks_answer_membership() -> None:
    with ReleaseScratch() as scratch:
        assert scratch.register_concepts([(11, 1, 2), (12, 1, 3), (11, 1, 4)]) == [(1, 2), (1, 3), (1, 2)]
        assert scratch.register_concepts([(12, 9, 5), (13, 1, 6)]) == [(1, 3), (1, 6)]
        assert scratch.unknown_concepts([11, 13, 14, 99]) == {14, 99}


def test_terms_are_the_preferred_fsn_and_synonym_and_a_second_fsn_is_refused() -> None:
    descriptions = [_description(101, 7, FSN_TYPE, "Thing (finding)"), _description(102, 7, SYNONYM_TYPE, "Thing"),
                    _description(103, 7, SYNONYM_TYPE, "Old thing")]  # 103 is not preferred
    with ReleaseScratch() as scratch:
        scratch.collect_terms(descriptions, [_preferred(101), _preferred(102)])
        assert scratch.terms_of([7, 8]) == {7: ("Thing (finding)", "Thing")}
    second = _description(104, 7, FSN_TYPE, "Thing again (finding)")
    with ReleaseScratch() as scratch, pytest.raises(ValueError, match="concept 7 has two FSNs") as refused:
        scratch.collect_terms([*descriptions, second], [_preferred(101), _preferred(102), _preferred(104)])
    assert "'Thing (finding)' and 'Thing again (finding)'" in str(refused.value)


def test_retired_pairs_come_back_distinct_page_by_page() -> None:
    with ReleaseScratch() as scratch:
        scratch.add_retired_pairs([(3, 1), (2, 1), (3, 1), (2, 5), (9, 4)])
        pages = list(scratch.retired_pairs(size=2))
    assert pages == [[(2, 1), (2, 5)], [(3, 1), (9, 4)]]


def test_the_scratch_file_is_removed_when_the_load_ends(tmp_path: Path) -> None:
    with ReleaseScratch(tmp_path) as scratch:
        scratch.add_mapped_concepts([1, 2, 2])
        assert scratch.mapped_concepts() == 2
        assert any(tmp_path.iterdir())
    assert not any(tmp_path.iterdir())
