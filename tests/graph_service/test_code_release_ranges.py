"""An ICD-10-CM release loaded on top of the one before writes only what changed (memberships, IS_A and notes are
stored once over a range of releases), and every release still answers as its own files say, over the API.

FY2026 is the real-format tabular excerpt; "FY2027" is the same file with A00.9 retitled, A00.1 added and
category S06 (with its subcodes and their generated 7th-character codes) deleted, so S02's "Code also ... (S06.-)" no
longer names a code of the release."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from neo4j import Driver

from codegraph.settings import Settings
from graph_service.app import create_app
from loaders.registry import load_source
from ontology.vocabulary import L, R

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "icd10cm" / "icd10cm-tabular-excerpt.xml"
RETITLED = "Cholera, not further specified"


def next_year(path: Path) -> Path:
    tree = etree.parse(str(FIXTURE))
    diags = {d.findtext("name"): d for d in tree.iter("diag")}
    diags["A00.9"].find("desc").text = RETITLED
    added = etree.Element("diag")
    etree.SubElement(added, "name").text = "A00.1"
    etree.SubElement(added, "desc").text = "Cholera due to Vibrio cholerae 01, biovar eltor"
    diags["A00.0"].addnext(added)
    diags["S06"].getparent().remove(diags["S06"])
    tree.write(str(path), xml_declaration=True, encoding="utf-8")
    return path


@pytest.fixture
def two_years(clean_graph: Driver, settings: Settings, tmp_path: Path, api_keys) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    first = load_source(clean_graph, settings, "icd10cm", [FIXTURE], "FY2026")
    second = load_source(clean_graph, settings, "icd10cm", [next_year(tmp_path / "fy2027.xml")], "FY2027")
    keyed = settings.model_copy(update={"api_keys": api_keys["engine"][1]})
    with TestClient(create_app(keyed), raise_server_exceptions=False) as client:
        yield {"first": first, "second": second, "client": client, "headers": {"X-API-Key": api_keys["engine"][0]}}


def code(world: dict[str, Any], value: str, release: str) -> Any:
    return world["client"].get(f"/v1/codes/icd10cm/{value}", params={"release": release}, headers=world["headers"])


def test_the_next_year_writes_only_the_codes_it_changes(two_years: dict[str, Any]) -> None:
    first, second = two_years["first"], two_years["second"]
    assert first.counts["code_ranges"]["layout"] == "first"
    ranges = second.counts["code_ranges"]
    assert ranges["layout"] == "diff"
    diff = second.report["diff"]
    deleted = diff["examples"]["deleted"]
    assert len(deleted) == diff["deleted"] and {c[:3] for c in deleted} == {"S06"} and "S06.1X0A" in deleted
    # A00.1 added; A00.9 retitled and S02, whose note lost its target, changed; S06 and its subcodes dropped.
    assert (ranges["codes_added"], ranges["codes_changed"], ranges["codes_dropped"]) == (1, 2, len(deleted))
    assert ranges["codes_unchanged"] == first.counts["code_ranges"]["codes_added"] - len(deleted) - 2
    assert (diff["added"], diff["title_revised"]) == (1, 1)
    # Written: the three codes' memberships and IS_A and S02's remaining notes, of a release of ~100 relationships.
    assert second.stats.records_created < 12 and first.stats.records_created > 80


def test_each_release_answers_as_its_own_file(two_years: dict[str, Any]) -> None:
    assert code(two_years, "A00.9", "FY2026").json()["title"] == "Cholera, unspecified"
    assert code(two_years, "A00.9", "FY2027").json()["title"] == RETITLED
    assert code(two_years, "A00.1", "FY2026").status_code == 404
    added = code(two_years, "A00.1", "FY2027").json()
    assert [p["code"] for p in added["parents"]] == ["A00", "A00-A09", "CH01"]
    assert code(two_years, "S06.1X0A", "FY2026").status_code == 200
    assert code(two_years, "S06.1X0A", "FY2027").status_code == 404
    # An unchanged code is the same in both, with both releases listed.
    same = [code(two_years, "S02.101A", year).json() for year in ("FY2026", "FY2027")]
    assert same[0]["title"] == same[1]["title"] and same[0]["parents"] == same[1]["parents"]
    assert same[1]["releases"] == ["icd10cm@FY2026", "icd10cm@FY2027"]

    def children(release: str) -> list[str]:
        page = two_years["client"].get("/v1/codes/icd10cm/A00/children", params={"release": release},
                                       headers=two_years["headers"]).json()
        return [item["code"] for item in page["items"]]

    assert children("FY2026") == ["A00.0", "A00.9"]
    assert children("FY2027") == ["A00.0", "A00.1", "A00.9"]


def test_a_note_whose_target_the_next_year_deletes_stays_in_the_year_before(two_years: dict[str, Any],
                                                                         driver: Driver, settings: Settings) -> None:
    cypher = f"""
    MATCH (rel:{L.Release} {{id: $release}}) WITH coalesce(rel.code_scope, [rel.id]) AS scope
    MATCH (:{L.Code} {{key: 'icd10cm|S02'}})-[e:{R.CODE_ALSO}]->(t)
    WHERE e.release IN scope AND (e.until IS NULL OR NOT e.until IN scope)
    RETURN collect(t.code) AS targets"""

    def targets(release: str) -> list[str]:
        records, _, _ = driver.execute_query(cypher, release=release, database_=settings.neo4j_database)
        return records[0]["targets"]

    assert targets("icd10cm@FY2026") == ["S06"]
    assert targets("icd10cm@FY2027") == []


def test_a_dry_run_of_the_next_year_leaves_the_year_before_as_it_was(clean_graph: Driver, settings: Settings,
                                                                     tmp_path: Path) -> None:
    load_source(clean_graph, settings, "icd10cm", [FIXTURE], "FY2026")

    def state() -> list[Any]:
        records, _, _ = clean_graph.execute_query(
            "MATCH (a)-[e]->(b) RETURN a.key AS a, type(e) AS type, b.key AS b, e.release AS release, "
            "e.until AS until, e.closed_by AS closed_by ORDER BY a, type, b, release",
            database_=settings.neo4j_database)
        return [r.data() for r in records]

    before = state()
    report = load_source(clean_graph, settings, "icd10cm", [next_year(tmp_path / "fy2027.xml")], "FY2027",
                         dry_run=True)
    assert report.status == "dry_run" and report.counts["code_ranges"]["codes_dropped"] > 0
    # What the dry run closed is open again and what it wrote is gone (its load run stays, for the record).
    after = [row for row in state() if row["type"] != R.PRODUCED_BY]
    assert after == [row for row in before if row["type"] != R.PRODUCED_BY]
