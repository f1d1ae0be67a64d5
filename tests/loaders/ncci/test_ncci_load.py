"""NCCI PTP edits and MUEs into the graph, per quarterly release, against a real Neo4j."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from loaders.errors import LoadError, ParseError, WrongFileError
from loaders.ncci import ptp_ranges
from loaders.ncci.load import quarter_window
from loaders.registry import load_source
from ontology.vocabulary import L, R
from tests.conftest import graph_counts

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NCCI = FIXTURES / "ncci"
PTP_FILES = sorted(NCCI.glob("cci*.txt"))
PART1 = NCCI / "ccipra-v321r0-f1_sample.txt"
MUE_FILES = sorted(NCCI.glob("MCR_MUE_*.csv"))
CPT_SAMPLE = FIXTURES / "cpt" / "LONGULT_sample.txt"


def _rows(driver: Driver, settings: Settings, cypher: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(cypher, params, database_=settings.neo4j_database)
    return [r.data() for r in records]


def _edges(driver: Driver, settings: Settings, column1: str, column2: str, release: str) -> list[dict[str, Any]]:
    return _rows(driver, settings, f"""
        MATCH (rel:{L.Release} {{id: $release}}) WITH {ptp_ranges.SCOPE} AS scope
        MATCH (:{L.Code} {{key: $a}})-[e:{R.BUNDLES}]->(:{L.Code} {{key: $b}}) WHERE {ptp_ranges.valid_in('e', 'scope')}
        RETURN e.setting AS setting, e.effective AS effective, e.deletion AS deletion,
               e.modifier_indicator AS indicator, e.prior_1996 AS prior_1996, e.rationale AS rationale
        ORDER BY setting, effective""", a=f"cpt|{column1}", b=f"cpt|{column2}", release=release)


def _copy(tmp_path: Path, source: Path, old: str, new: str, name: str | None = None) -> Path:
    path = tmp_path / (name or source.name)
    data = source.read_bytes()
    assert old.encode() in data
    path.write_bytes(data.replace(old.encode(), new.encode(), 1))
    return path


@pytest.fixture
def loaded(clean_graph: Driver, settings: Settings) -> Driver:
    load_source(clean_graph, settings, "ncci_ptp", PTP_FILES, "2026Q1")
    load_source(clean_graph, settings, "ncci_mue", MUE_FILES, "2026Q1")
    return clean_graph


def test_quarter_versions_give_the_quarter_as_effective_window() -> None:
    assert quarter_window("2026Q1") == (date(2026, 1, 1), date(2026, 4, 1))
    assert quarter_window("2025q4") == (date(2025, 10, 1), date(2026, 1, 1))
    assert quarter_window("2026Q2r1") == (date(2026, 4, 1), date(2026, 7, 1))  # a correction within the quarter
    with pytest.raises(LoadError, match="YYYYQn"):
        quarter_window("v321r0")


def test_ptp_edits_counted_per_setting_and_release(loaded: Driver, settings: Settings, tmp_path: Path) -> None:
    # The next quarter deletes one practitioner edit: 12 practitioner rows instead of 13.
    q2 = tmp_path / "q2"
    q2.mkdir()
    for path in PTP_FILES:
        lines = path.read_bytes().split(b"\r\n")
        kept = [line for line in lines if not line.startswith(b"43239\t43235")]
        (q2 / path.name).write_bytes(b"\r\n".join(kept))
    report = load_source(loaded, settings, "ncci_ptp", [q2], "2026Q2")
    assert (report.counts["edits_practitioner"], report.counts["edits_outpatient_hospital"]) == (12, 3)
    # Stored once over a range of quarters: Q2 only closed the dropped edit; each quarter reads its own edits.
    assert (report.counts["ptp_layout"], report.counts["ptp_written"], report.counts["ptp_closed"]) == ("diff", 0, 1)
    counts = _rows(loaded, settings, f"""
        MATCH (rel:{L.Release}) WHERE rel.system = 'ncci_ptp'
        WITH rel.id AS release, {ptp_ranges.SCOPE} AS scope
        MATCH ()-[e:{R.BUNDLES}]->() WHERE {ptp_ranges.valid_in('e', 'scope')}
        RETURN release, e.setting AS setting, count(*) AS n ORDER BY release, setting""")
    assert counts == [
        {"release": "ncci_ptp@2026Q1", "setting": "outpatient_hospital", "n": 3},
        {"release": "ncci_ptp@2026Q1", "setting": "practitioner", "n": 13},
        {"release": "ncci_ptp@2026Q2", "setting": "outpatient_hospital", "n": 3},
        {"release": "ncci_ptp@2026Q2", "setting": "practitioner", "n": 12},
    ]
    releases = _rows(loaded, settings, f"""
        MATCH (r:{L.Release}) WHERE r.system = 'ncci_ptp'
        RETURN r.id AS id, r.status AS status, r.effective_from AS start, r.effective_to AS end ORDER BY id""")
    assert [(r["id"], r["status"], r["start"].to_native(), r["end"].to_native()) for r in releases] == [
        ("ncci_ptp@2026Q1", "visible", date(2026, 1, 1), date(2026, 4, 1)),
        ("ncci_ptp@2026Q2", "visible", date(2026, 4, 1), date(2026, 7, 1)),
    ]


def test_a_pair_with_two_windows_keeps_two_relationships(loaded: Driver, settings: Settings) -> None:
    edges = _edges(loaded, settings, "29881", "29877", "ncci_ptp@2026Q1")
    practitioner = [e for e in edges if e["setting"] == "practitioner"]
    assert [(e["effective"].to_native(), e["deletion"] and e["deletion"].to_native(), e["indicator"],
             e["prior_1996"]) for e in practitioner] == [
        (date(1996, 1, 1), date(2008, 12, 31), 1, True),
        (date(2009, 1, 1), None, 0, False),
    ]
    assert [e["indicator"] for e in edges if e["setting"] == "outpatient_hospital"] == [1]
    assert practitioner[0]["rationale"] == "Standards of medical / surgical practice"


def test_codes_are_cpt_or_hcpcs_by_shape_and_existing_nodes_are_kept(
    clean_graph: Driver, settings: Settings
) -> None:
    load_source(clean_graph, settings, "cpt", [CPT_SAMPLE], "2026")
    before = _rows(clean_graph, settings, f"MATCH (c:{L.Code} {{key: 'cpt|27447'}}) RETURN c.load_run AS run")
    load_source(clean_graph, settings, "ncci_ptp", PTP_FILES, "2026Q1")
    nodes = {r["key"]: r for r in _rows(clean_graph, settings, f"""
        MATCH (c:{L.Code}) WHERE c.key IN ['cpt|27447', 'cpt|20610', 'hcpcs|G0289']
        RETURN c.key AS key, labels(c) AS labels, c.system AS system, c.code AS code, c.load_run AS run""")}
    assert set(nodes["hcpcs|G0289"]["labels"]) == {L.Code, L.HCPCSCode}
    assert (nodes["hcpcs|G0289"]["system"], nodes["hcpcs|G0289"]["code"]) == ("hcpcs", "G0289")
    assert set(nodes["cpt|20610"]["labels"]) == {L.Code, L.CPTCode}
    assert nodes["cpt|27447"]["run"] == before[0]["run"]  # the CPT release's node, not re-stamped by NCCI


def test_a_download_folder_gives_each_loader_its_own_tables(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "ncci-2026Q1"
    folder.mkdir()
    for path in [*PTP_FILES, *MUE_FILES]:
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "README.txt").write_text("How to read these files.\n")
    assert load_source(clean_graph, settings, "ncci_ptp", [folder], "2026Q1").counts["edits"] == 16
    assert load_source(clean_graph, settings, "ncci_mue", [folder], "2026Q1").counts["mues"] == 11


def test_mue_values_and_adjudication_indicators(loaded: Driver, settings: Settings) -> None:
    mues = {(r["setting"], r["code"]): r for r in _rows(loaded, settings, f"""
        MATCH (c:{L.Code})-[h:{R.HAS_MUE}]->(m:{L.MUE})-[i:{R.IN_RELEASE}]->(rel:{L.Release})
        RETURN c.key AS code_key, m.code AS code, m.setting AS setting, m.value AS value, m.mai AS mai,
               m.mai_text AS mai_text, m.key AS key, h.release AS h_release, rel.id AS release""")}
    assert len(mues) == 11
    line_edit = mues[("practitioner", "20610")]
    assert (line_edit["value"], line_edit["mai"], line_edit["mai_text"]) == (2, 1, "1 Line Edit")
    assert line_edit["key"] == "ncci_mue@2026Q1|practitioner|20610"
    assert line_edit["release"] == line_edit["h_release"] == "ncci_mue@2026Q1"
    assert (mues[("practitioner", "36415")]["mai"], mues[("outpatient_hospital", "36415")]["mai"]) == (3, 2)
    assert (mues[("practitioner", "J1100")]["value"], mues[("practitioner", "J1100")]["code_key"]) == (
        120, "hcpcs|J1100")
    assert {s for s, _ in mues} == {"practitioner", "outpatient_hospital", "dme"}


def test_loading_the_same_release_again_changes_nothing(loaded: Driver, settings: Settings) -> None:
    before = graph_counts(loaded, settings.neo4j_database)
    again = load_source(loaded, settings, "ncci_ptp", PTP_FILES, "2026Q1")
    mue_again = load_source(loaded, settings, "ncci_mue", MUE_FILES, "2026Q1")
    # the very same files (sha256): recognised before anything is written
    assert (again.status, mue_again.status) == ("unchanged", "unchanged")
    assert graph_counts(loaded, settings.neo4j_database) == before


@pytest.mark.parametrize(("old", "new", "error", "line", "field"), [
    ("20130101", "2013O101", ParseError, 14, "effective date"),
    ("Column 1\tColumn 2", "Col 1\tCol 2", WrongFileError, None, "header"),
    ("99213\t36415\t\t20130101", "99213\t36415\t\t2013", ParseError, 14, "row"),
])
def test_bad_ptp_file_is_located_and_leaves_the_graph_as_it_was(
    loaded: Driver, settings: Settings, tmp_path: Path, old: str, new: str, error: type, line: int | None,
    field: str,
) -> None:
    good = tmp_path / PTP_FILES[0].name
    good.write_bytes(PTP_FILES[0].read_bytes())
    if old.startswith("99213"):  # truncated: the file stops mid-row
        bad = tmp_path / PART1.name
        data = PART1.read_bytes()
        bad.write_bytes(data[: data.rindex(old.encode()) + len(new)])
    else:
        bad = _copy(tmp_path, PART1, old, new)
    before = graph_counts(loaded, settings.neo4j_database)
    with pytest.raises(error) as err:
        # A batch of 2 rows: edges of the first file are written before the bad row is read.
        load_source(loaded, settings, "ncci_ptp", [good, bad], "2026Q2", batch_size=2)
    assert (err.value.file, err.value.line, err.value.field) == (str(bad), line, field)
    assert graph_counts(loaded, settings.neo4j_database) == (before[0] + 1, before[1])  # only the failed LoadRun
    assert not _rows(loaded, settings, f"MATCH (r:{L.Release} {{id: 'ncci_ptp@2026Q2'}}) RETURN r.id AS id")


def test_bad_mue_value_is_located_and_leaves_the_graph_as_it_was(
    loaded: Driver, settings: Settings, tmp_path: Path
) -> None:
    source = MUE_FILES[2]
    bad = _copy(tmp_path, source, "97597,1,", "97597,one,")
    before = graph_counts(loaded, settings.neo4j_database)
    with pytest.raises(ParseError) as err:
        load_source(loaded, settings, "ncci_mue", [bad], "2026Q2")
    assert (err.value.line, err.value.field, err.value.found) == (9, "MUE value", "one")
    assert graph_counts(loaded, settings.neo4j_database) == (before[0] + 1, before[1])


def test_a_release_that_is_not_a_quarter_is_refused(loaded: Driver, settings: Settings) -> None:
    before = graph_counts(loaded, settings.neo4j_database)
    with pytest.raises(LoadError, match="YYYYQn"):
        load_source(loaded, settings, "ncci_ptp", PTP_FILES, "FY2026")
    assert graph_counts(loaded, settings.neo4j_database) == (before[0] + 1, before[1])
