"""ICD-10-PCS into the graph: codes, table stems and their hierarchy, axis meanings, against a real Neo4j."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from loaders.bundled import bundled_datasets
from loaders.errors import LoadError, ParseError
from loaders.registry import load_source
from ontology.vocabulary import L, R
from tests.conftest import graph_counts

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "icd10pcs"
ORDER = FIXTURES / "icd10pcs_order_2024_sample.txt"
CODES = FIXTURES / "icd10pcs_codes_2024_sample.txt"
TABLES = FIXTURES / "icd10pcs_tables_2024_sample.xml"
RELEASE = "icd10pcs@FY2024"
# A trimmed row of the real FY2024 table 02H: Superior Vena Cava, percutaneous, infusion or intraluminal device.
SVC_ROW = """    <pcsRow codes="2">
      <axis pos="4" values="1"><title>Body Part</title><label code="V">Superior Vena Cava</label></axis>
      <axis pos="5" values="1"><title>Approach</title><label code="3">Percutaneous</label></axis>
      <axis pos="6" values="2"><title>Device</title>
        <label code="3">Infusion Device</label><label code="D">Intraluminal Device</label></axis>
      <axis pos="7" values="1"><title>Qualifier</title><label code="Z">No Qualifier</label></axis>
    </pcsRow>
  </pcsTable>"""
SVC_CODE = "02HV33Z Insertion of Infusion Device into Superior Vena Cava, Percutaneous Approach\n"


@pytest.fixture
def codes_and_tables(tmp_path: Path) -> list[Path]:
    """The fixture codes file plus 02HV33Z, and the fixture tables plus the row that defines it."""
    codes = tmp_path / "icd10pcs_codes_2024.txt"
    codes.write_text(CODES.read_text() + SVC_CODE)
    tables = tmp_path / "icd10pcs_tables_2024.xml"
    tables.write_text(TABLES.read_text().replace("  </pcsTable>", SVC_ROW, 1))
    return [codes, tables]


def _membership(driver: Driver, settings: Settings, code: str, release: str = RELEASE) -> dict[str, Any]:
    records, _, _ = driver.execute_query(
        f"""MATCH (c:{L.ICD10PCSCode} {{key: 'icd10pcs|' + $code}})-[m:{R.IN_RELEASE}]->(:{L.Release} {{id: $release}})
            RETURN properties(m) AS m, labels(c) AS labels, c.title AS node_title""",
        code=code, release=release, database_=settings.neo4j_database,
    )
    assert records, f"{code} is not in {release}"
    return {**records[0]["m"], "labels": records[0]["labels"], "node_title": records[0]["node_title"]}


def _ancestors(driver: Driver, settings: Settings, code: str, release: str = RELEASE) -> list[str]:
    records, _, _ = driver.execute_query(
        f"""MATCH path = (c:{L.ICD10PCSCode} {{key: 'icd10pcs|' + $code}})-[:{R.IS_A}*1.. {{release: $release}}]->(top)
            WHERE NOT (top)-[:{R.IS_A} {{release: $release}}]->()
            RETURN [n IN tail(nodes(path)) | n.code] AS chain""",
        code=code, release=release, database_=settings.neo4j_database,
    )
    assert len(records) == 1, f"{code} has {len(records)} paths to a root"
    return records[0]["chain"]


def _coverage(driver: Driver, settings: Settings, release: str = RELEASE) -> str:
    records, _, _ = driver.execute_query(f"MATCH (r:{L.Release} {{id: $id}}) RETURN r.coverage AS c, r.status AS s",
                                         id=release, database_=settings.neo4j_database)
    assert records[0]["s"] == "visible"
    return records[0]["c"]


def test_insertion_code_carries_its_axis_meanings_and_is_a_its_stem(
    clean_graph: Driver, settings: Settings, codes_and_tables: list[Path]
) -> None:
    load_source(clean_graph, settings, "icd10pcs", codes_and_tables, "FY2024")
    svc = _membership(clean_graph, settings, "02HV33Z")
    assert svc["title"] == svc["node_title"] == SVC_CODE[8:].strip()
    assert (svc["billable"], svc["kind"]) == (True, "code")
    assert {k: svc[k] for k in ("section", "body_system", "root_operation", "body_part", "approach", "device",
                                "qualifier")} == {
        "section": "Medical and Surgical", "body_system": "Heart and Great Vessels", "root_operation": "Insertion",
        "body_part": "Superior Vena Cava", "approach": "Percutaneous", "device": "Infusion Device",
        "qualifier": "No Qualifier",
    }
    assert _ancestors(clean_graph, settings, "02HV33Z") == ["02H", "02", "0"]
    assert _coverage(clean_graph, settings) == "full"


def test_table_stem_and_its_parents_take_titles_from_the_tables(
    clean_graph: Driver, settings: Settings, codes_and_tables: list[Path]
) -> None:
    load_source(clean_graph, settings, "icd10pcs", codes_and_tables, "FY2024")
    stem = _membership(clean_graph, settings, "02H")
    assert (stem["kind"], stem["billable"], stem["title"]) == (
        "table", False, "Medical and Surgical, Heart and Great Vessels, Insertion")
    assert stem["root_operation_definition"].startswith("Putting in a nonbiological appliance")
    body = _membership(clean_graph, settings, "02")
    assert (body["kind"], body["title"], body["section"]) == ("body_system", "Heart and Great Vessels",
                                                              "Medical and Surgical")
    section = _membership(clean_graph, settings, "0")
    assert (section["kind"], section["title"], section.get("placeholder_title")) == (
        "section", "Medical and Surgical", None)


def test_imaging_axes_are_named_from_their_own_titles(
    clean_graph: Driver, settings: Settings, codes_and_tables: list[Path]
) -> None:
    load_source(clean_graph, settings, "icd10pcs", codes_and_tables, "FY2024")
    echo = _membership(clean_graph, settings, "B246ZZ4")
    assert {k: echo.get(k) for k in ("section", "type", "body_part", "contrast", "qualifier", "qualifier_7")} == {
        "section": "Imaging", "type": "Ultrasonography", "body_part": "Heart, Right and Left", "contrast": "None",
        "qualifier": "None", "qualifier_7": "Transesophageal",
    }
    assert "root_operation" not in echo


def test_list_and_tables_are_counted_against_each_other(
    clean_graph: Driver, settings: Settings, codes_and_tables: list[Path]
) -> None:
    report = load_source(clean_graph, settings, "icd10pcs", codes_and_tables, "FY2024")
    counts = report.counts
    # 7 listed codes; the tables define 12+6+9+2 (02H) and 8+24 (B24); 001 and GZH have no table in the sample.
    assert {k: counts[k] for k in ("codes", "billable", "tables", "body_systems", "sections", "hierarchy_edges",
                                   "codes_with_axes", "list_codes_missing_from_tables",
                                   "table_codes_missing_from_list", "placeholder_titles")} == {
        "codes": 7, "billable": 7, "tables": 4, "body_systems": 4, "sections": 3, "hierarchy_edges": 15,
        "codes_with_axes": 4, "list_codes_missing_from_tables": 3, "table_codes_missing_from_list": 57,
        "placeholder_titles": 5,  # 001, 00 and GZH, GZ, G: no table names them
    }
    assert _membership(clean_graph, settings, "GZH")["title"] == "Table GZH"


def test_order_file_headers_become_non_billable_table_stems(clean_graph: Driver, settings: Settings) -> None:
    report = load_source(clean_graph, settings, "icd10pcs", [ORDER], "FY2024")
    assert (report.counts["codes"], report.counts["tables"]) == (5, 3)
    stem = _membership(clean_graph, settings, "02H")
    assert (stem["kind"], stem["billable"], stem["title"]) == ("table", False, "Heart and Great Vessels, Insertion")
    assert "placeholder_title" not in stem
    lead = _membership(clean_graph, settings, "02HK3JZ")
    assert lead["search_terms"] == "Insert Pacemaker Lead into R Ventricle, Perc Approach"
    assert _ancestors(clean_graph, settings, "02HK3JZ") == ["02H", "02", "0"]


def test_without_tables_the_structure_is_built_from_the_characters_with_placeholder_titles(
    clean_graph: Driver, settings: Settings
) -> None:
    report = load_source(clean_graph, settings, "icd10pcs", [CODES], "FY2024")
    assert report.counts["placeholder_titles"] == report.counts["tables"] + report.counts["body_systems"] + 3
    stem = _membership(clean_graph, settings, "B24")
    assert (stem["title"], stem["placeholder_title"], stem["billable"]) == ("Table B24", True, False)
    assert _membership(clean_graph, settings, "B")["title"] == "Section B"
    assert _ancestors(clean_graph, settings, "B246ZZ4") == ["B24", "B2", "B"]
    assert "root_operation" not in _membership(clean_graph, settings, "02HK3JZ")
    assert _coverage(clean_graph, settings) == "billable-only"


def test_bad_code_list_leaves_the_graph_as_it_was_and_names_file_and_line(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    load_source(clean_graph, settings, "icd10pcs", [CODES], "FY2024")
    before = graph_counts(clean_graph, settings.neo4j_database)
    bad = tmp_path / "icd10pcs_codes_2025.txt"
    lines = CODES.read_text().splitlines(keepends=True)
    bad.write_text("".join(lines[:3]) + "02HK3J Insertion cut short\n" + "".join(lines[3:]))
    with pytest.raises(ParseError) as err:
        load_source(clean_graph, settings, "icd10pcs", [bad], "FY2025")
    assert f"{bad}:4" in str(err.value)
    nodes, rels = graph_counts(clean_graph, settings.neo4j_database)
    assert (nodes - 1, rels) == before  # only the failed LoadRun is left, as the record of the attempt


def test_bad_tables_row_fails_the_load_and_names_the_xml_line(
    clean_graph: Driver, settings: Settings, codes_and_tables: list[Path]
) -> None:
    codes, tables = codes_and_tables
    tables.write_text(tables.read_text().replace('<pcsRow codes="6">', '<pcsRow codes="7">'))
    with pytest.raises(ParseError) as err:
        load_source(clean_graph, settings, "icd10pcs", [codes, tables], "FY2024")
    assert f"{tables}:41" in str(err.value)
    assert graph_counts(clean_graph, settings.neo4j_database) == (1, 0)


def test_tables_of_another_year_are_refused_before_writing(
    clean_graph: Driver, settings: Settings, codes_and_tables: list[Path]
) -> None:
    with pytest.raises(LoadError, match="version 2024, the release is FY2025"):
        load_source(clean_graph, settings, "icd10pcs", codes_and_tables, "FY2025")


def test_rerunning_the_same_load_gives_the_same_graph(
    clean_graph: Driver, settings: Settings, codes_and_tables: list[Path]
) -> None:
    first = load_source(clean_graph, settings, "icd10pcs", codes_and_tables, "FY2024")
    before = graph_counts(clean_graph, settings.neo4j_database)
    second = load_source(clean_graph, settings, "icd10pcs", codes_and_tables, "FY2024")
    # the very same files (sha256): recognised before anything is written
    assert (second.status, second.run_id) == ("unchanged", first.run_id)
    assert graph_counts(clean_graph, settings.neo4j_database) == before


@pytest.mark.live
def test_real_fy2024_code_list_loads_every_code_under_its_stem(clean_graph: Driver, settings: Settings) -> None:
    bundled = next(ds for ds in bundled_datasets() if ds.source == "icd10pcs")
    report = load_source(clean_graph, settings, bundled.source, list(bundled.paths), bundled.version)
    counts = report.counts
    assert counts["codes"] == counts["billable"] == 78_603
    assert counts["sections"] == 17
    assert counts["hierarchy_edges"] == counts["codes"] + counts["tables"] + counts["body_systems"]
    records, _, _ = clean_graph.execute_query(
        f"""MATCH (c:{L.ICD10PCSCode})-[m:{R.IN_RELEASE} {{billable: true}}]->(:{L.Release} {{id: $release}})
            WHERE NOT (c)-[:{R.IS_A} {{release: $release}}]->()
            RETURN count(c) AS orphans""",
        release=RELEASE, database_=settings.neo4j_database,
    )
    assert records[0]["orphans"] == 0
    print(f"\nFY2024 PCS: {counts} in {report.seconds:.1f} s, {report.stats.rows_per_second:,.0f} rows/s")
