"""The full FY2026 (April 1 update) tabular XML against the code list shipped beside it.

Run with ``pytest -m live tests/loaders/icd10cm -s`` to see the counts.
"""

from __future__ import annotations

import importlib.util
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from loaders.icd10cm.code_lists import parse_code_list
from loaders.icd10cm.note_refs import extract_note_references
from loaders.icd10cm.tabular import Icd10cmChapter, Icd10cmCode, Icd10cmNote, Icd10cmSection, parse_icd10cm_tabular

pytestmark = pytest.mark.live


def _package_data(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)  # locate without importing (simple_icd_10_cm builds its tree on import)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed")
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.exists():
        pytest.skip(f"{path} is missing")
    return path


def _ascii(text: str) -> str:
    # The flat CMS files spell "Sézary" as "Sezary"; the XML keeps the accents.
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def test_fy2026_tabular_generates_exactly_the_billable_codes_of_the_code_list() -> None:
    xml = _package_data("simple_icd_10_cm", "data", "icd10c-tabular-April-1-2026.xml")
    code_list = _package_data("simple_icd_10_cm", "data", "code-list-April-2026.txt")
    records = list(parse_icd10cm_tabular(xml))
    codes = {r.code: r for r in records if isinstance(r, Icd10cmCode)}
    notes = [r for r in records if isinstance(r, Icd10cmNote)]
    listed = {r.code: r for r in parse_code_list(code_list)}

    billable = {c for c, r in codes.items() if r.billable}
    assert billable == {c for c, r in listed.items() if r.billable}
    assert set(codes) == set(listed)
    assert len(billable) == 74_719 and len(codes) - len(billable) == 23_467  # FY2026 order-file counts

    references = Counter()
    for note in notes:
        for ref in extract_note_references(note.text):
            ends = [ref.code] + ([ref.code_to] if ref.code_to else [])
            references[(ref.kind, all(end in codes for end in ends))] += 1
    resolved = sum(n for (_, ok), n in references.items() if ok)
    assert resolved / sum(references.values()) > 0.99

    counts = {
        "chapters": sum(isinstance(r, Icd10cmChapter) for r in records),
        "sections": sum(isinstance(r, Icd10cmSection) for r in records),
        "codes": dict(Counter(r.kind for r in codes.values())),
        "billable": len(billable),
        "headers": len(codes) - len(billable),
        "generated_7th": sum(r.generated_7th for r in codes.values()),
        "notes": dict(Counter(n.kind for n in notes)),
        "references": dict(references),
    }
    print(counts)
    assert counts["chapters"] == 22 and counts["sections"] == 297


def test_generated_titles_follow_cms_base_title_comma_extension() -> None:
    xml = _package_data("simple_icd_10_cm", "data", "icd10c-tabular-April-1-2026.xml")
    fy2025 = _package_data("drg", "data", "cms", "icd_10_cm.csv")
    generated = {r.code: r.title for r in parse_icd10cm_tabular(xml) if isinstance(r, Icd10cmCode) and r.generated_7th}
    listed = {r.code: r.title for r in parse_code_list(fy2025)}
    shared = [c for c in generated if c in listed]
    differ = [c for c in shared if _ascii(generated[c]) != listed[c]]
    print({"generated_in_fy2025_list": len(shared), "title_differs": len(differ), "examples": differ[:5]})
    # The few that differ were retitled between FY2025 and FY2026 (e.g. S62.90- "wrist and hand" -> "hand").
    assert len(shared) > 50_000 and len(differ) < 50
