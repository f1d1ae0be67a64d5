"""SNOMED CT RF2 into the graph: concepts, active IS-A, the ICD-10-CM map as MapRule nodes, against a real Neo4j."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from loaders.errors import LoadError, ParseError, WrongFileError
from loaders.machinery.pipeline import run_load
from loaders.machinery.runs import ReleaseSpec
from loaders.registry import load_source
from loaders.snomed.load import SnomedLoader
from loaders.snomed.release import Rf2Kind, parse_rf2_name
from ontology.vocabulary import L, R
from tests.conftest import graph_counts

PACKAGE = (Path(__file__).resolve().parents[2] / "fixtures" / "snomed"
           / "SnomedCT_USEditionRF2_PRODUCTION_20250301T120000Z")
SNAPSHOT = PACKAGE / "Snapshot"
RELEASE = "snomed@20250301"
PREGNANCY_ROW = "45e277fe-ee86-5b3f-a01d-e176a80d895c@20230301"  # 42343007: IFA 77386006 | Pregnancy | → O99.419


def _read(driver: Driver, settings: Settings, cypher: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(cypher, params, database_=settings.neo4j_database)
    return [r.data() for r in records]


def _membership(driver: Driver, settings: Settings, sctid: str) -> dict[str, Any]:
    rows = _read(driver, settings, f"""
        MATCH (c:{L.Code} {{key: 'snomed|' + $id}})-[m:{R.IN_RELEASE}]->(:{L.Release} {{id: $release}})
        RETURN properties(m) AS m, labels(c) AS labels, c.title AS node_title""", id=sctid, release=RELEASE)
    assert rows, f"{sctid} is not in {RELEASE}"
    return {**rows[0]["m"], "labels": set(rows[0]["labels"]), "node_title": rows[0]["node_title"]}


@pytest.fixture
def loaded(clean_graph: Driver, settings: Settings) -> Driver:
    load_source(clean_graph, settings, "snomed", [PACKAGE], "20250301")
    return clean_graph


def test_counts_of_concepts_is_a_map_rows_and_targets(clean_graph: Driver, settings: Settings) -> None:
    report = load_source(clean_graph, settings, "snomed", [PACKAGE], "20250301")
    assert {k: report.counts[k] for k in ("concepts", "active_concepts", "inactive_concepts", "is_a",
                                          "is_a_retired_pairs", "map_rows", "map_rows_active", "map_targets",
                                          "map_concepts", "rf2_release_type")} == {
        "concepts": 46, "active_concepts": 45, "inactive_concepts": 1, "is_a": 45, "is_a_retired_pairs": 2,
        "map_rows": 45, "map_rows_active": 44, "map_targets": 41, "map_concepts": 29, "rf2_release_type": "Snapshot",
    }
    [graph] = _read(clean_graph, settings, f"""
        RETURN COUNT {{ (:{L.SnomedConcept})-[:{R.IN_RELEASE} {{release: $release}}]->() }} AS concepts,
               COUNT {{ ()-[:{R.IS_A} {{release: $release}}]->() }} AS is_a,
               COUNT {{ (:{L.SnomedConcept})-[:{R.HAS_MAP_RULE} {{release: $release}}]->(:{L.MapRule}) }} AS map_rows,
               COUNT {{ (:{L.MapRule})-[:{R.MAPS_TO} {{release: $release}}]->(:{L.ICD10CMCode}) }} AS targets,
               COUNT {{ (t:{L.ICD10CMCode}) WHERE t.system = 'icd10cm' }} AS icd10cm_codes""", release=RELEASE)
    assert graph == {"concepts": 46, "is_a": 45, "map_rows": 45, "targets": 41, "icd10cm_codes": 36}


def test_the_release_is_visible_from_its_release_date(loaded: Driver, settings: Settings) -> None:
    [release] = _read(loaded, settings, f"MATCH (r:{L.Release} {{id: $id}}) RETURN r {{.*}} AS r", id=RELEASE)
    r = release["r"]
    assert (r["status"], r["system"], r["version"], r["effective_from"].to_native()) == (
        "visible", "snomed", "20250301", date(2025, 3, 1))


def test_a_concept_is_titled_by_its_us_preferred_term_with_the_fsn_on_the_membership(
    loaded: Driver, settings: Settings
) -> None:
    heart_failure = _membership(loaded, settings, "84114007")
    assert {k: heart_failure[k] for k in ("title", "node_title", "fsn", "active", "billable", "labels")} == {
        "title": "Heart failure", "node_title": "Heart failure", "fsn": "Heart failure (disorder)", "active": True,
        "billable": True, "labels": {L.Code, L.SnomedConcept},
    }
    assert _membership(loaded, settings, "271737000")["title"] == "Anemia"  # US, not GB "Anaemia"


def test_an_inactive_concept_stays_a_member_but_inactive_and_not_billable(loaded: Driver, settings: Settings) -> None:
    retired = _membership(loaded, settings, "195111005")
    assert (retired["active"], retired["billable"], retired["title"]) == (False, False, "Decompensated cardiac failure")
    assert _read(loaded, settings, f"MATCH (:{L.Code} {{key: 'snomed|195111005'}})-[e:{R.IS_A}]->() RETURN e") == []


def test_only_is_a_pairs_with_an_active_relationship_become_edges(loaded: Driver, settings: Settings) -> None:
    parents = _read(loaded, settings, f"""
        MATCH (:{L.Code} {{key: 'snomed|85232009'}})-[e:{R.IS_A} {{release: $release}}]->(p)
        RETURN p.code AS parent, e.load_run IS NOT NULL AS stamped""", release=RELEASE)
    assert parents == [{"parent": "84114007", "stamped": True}]  # the retired row to 56265001 is left out
    two_parents = _read(loaded, settings, f"""
        MATCH (:{L.Code} {{key: 'snomed|127013003'}})-[:{R.IS_A}]->(p) RETURN p.code AS parent ORDER BY parent""")
    assert [p["parent"] for p in two_parents] == ["73211009", "90708001"]


def test_a_map_row_is_a_map_rule_with_the_properties_the_code_record_reads(loaded: Driver, settings: Settings) -> None:
    [row] = _read(loaded, settings, f"""
        MATCH (c:{L.SnomedConcept})-[h:{R.HAS_MAP_RULE}]->(mr:{L.MapRule} {{id: $id}})-[e:{R.MAPS_TO}]->(t)
        RETURN c.code AS concept, properties(mr) AS mr, h.release AS h_release, e.release AS e_release,
               e.load_run = h.load_run AS same_run, t.code AS target, labels(t) AS labels, t.system AS system""",
                  id=PREGNANCY_ROW)
    mr = row["mr"]
    assert {k: mr[k] for k in ("member_id", "group", "priority", "rule", "correlation", "category", "active",
                               "effective_time")} == {
        "member_id": "45e277fe-ee86-5b3f-a01d-e176a80d895c", "group": 1, "priority": 1,
        "rule": "IFA 77386006 | Pregnancy (finding) |", "correlation": "447561005", "category": "447639009",
        "active": True, "effective_time": "2023-03-01",
    }
    assert mr["advice"].startswith("IF PREGNANCY CHOOSE O99.419")
    assert (row["concept"], row["target"], row["system"], set(row["labels"])) == (
        "42343007", "O99.419", "icd10cm", {L.Code, L.ICD10CMCode})
    assert (row["h_release"], row["e_release"], row["same_run"]) == (RELEASE, RELEASE, True)


def test_a_row_without_a_target_has_no_maps_to_and_a_retired_row_is_kept_inactive(
    loaded: Driver, settings: Settings
) -> None:
    no_code = _read(loaded, settings, f"""
        MATCH (:{L.Code} {{key: 'snomed|64572001'}})-[:{R.HAS_MAP_RULE}]->(mr)
        RETURN mr.rule AS rule, mr.advice AS advice, COUNT {{ (mr)-[:{R.MAPS_TO}]->() }} AS targets""")
    assert no_code == [{"rule": "TRUE", "advice": "MAP SOURCE CONCEPT CANNOT BE CLASSIFIED WITH AVAILABLE DATA",
                        "targets": 0}]
    chf = _read(loaded, settings, f"""
        MATCH (:{L.Code} {{key: 'snomed|42343007'}})-[:{R.HAS_MAP_RULE}]->(mr)
        RETURN mr.priority AS priority, mr.active AS active, mr.effective_time AS time ORDER BY time, priority""")
    assert chf == [{"priority": 1, "active": False, "time": "2019-03-01"},
                   {"priority": 1, "active": True, "time": "2023-03-01"},
                   {"priority": 2, "active": True, "time": "2023-03-01"}]


def test_maps_to_reuses_an_icd10cm_code_already_loaded(clean_graph: Driver, settings: Settings,
                                                       tmp_path: Path) -> None:
    codes = tmp_path / "icd10cm-codes-2026.txt"
    codes.write_text("I509    Heart failure, unspecified\nO99419  Diseases of the circulatory system "
                     "complicating pregnancy, unspecified trimester\n")
    load_source(clean_graph, settings, "icd10cm", [codes], "FY2026")
    [before] = _read(clean_graph, settings, f"MATCH (t:{L.Code} {{key: 'icd10cm|I50.9'}}) RETURN t.load_run AS run")
    load_source(clean_graph, settings, "snomed", [PACKAGE], "20250301")
    rows = _read(clean_graph, settings, f"""
        MATCH (t:{L.Code} {{key: 'icd10cm|I50.9'}})
        RETURN t.load_run AS run, t.title AS title, COUNT {{ (:{L.MapRule})-[:{R.MAPS_TO}]->(t) }} AS rules""")
    # 84114007 TRUE, and 42343007 OTHERWISE TRUE with its retired TRUE row
    assert rows == [{"run": before["run"], "title": "Heart failure, unspecified", "rules": 3}]


# --- Full ----------------------------------------------------------------------------------------------------------

# Older versions of rows whose latest version is the Snapshot's: the Full load must end where the Snapshot does.
_HISTORY = {
    Rf2Kind.RELATIONSHIP: ["7000024021\t20020131\t1\t900000000000207008\t195111005\t84114007\t0\t116680003"
                           "\t900000000000011006\t900000000000451002"],
    Rf2Kind.EXTENDED_MAP: ["a4dadf53-ca28-5a20-b2b2-360818eeb99a\t20190301\t1\t5991000124107\t6011000124106"
                           "\t84114007\t1\t1\tTRUE\tALWAYS I50.1\tI50.1\t447561005\t447637006"],
}  # no older language row: the Snapshot's are dated 20020131, SNOMED CT's first release, and none can be older


def _kind(path: Path) -> Rf2Kind | None:
    name = parse_rf2_name(path)
    return name.kind if name else None


def _data_rows(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[1:]


def _full_release(target: Path) -> Path:
    """The Snapshot as a Full release: every Snapshot row plus older versions of some rows (the fixture's Full
    history and ``_HISTORY``), so that the latest row per id is the Snapshot's."""
    history = {_kind(p): _data_rows(p) for p in (PACKAGE / "Full").rglob("*.txt")}
    for snapshot_file in SNAPSHOT.rglob("*.txt"):
        out = target / snapshot_file.parent.relative_to(SNAPSHOT) / snapshot_file.name.replace("Snapshot", "Full")
        out.parent.mkdir(parents=True, exist_ok=True)
        header, *rows = snapshot_file.read_text(encoding="utf-8").splitlines()
        latest = {row.split("\t")[0]: row.split("\t")[1] for row in rows}
        kind = _kind(snapshot_file)
        older = [row for row in history.get(kind, []) + _HISTORY.get(kind, [])  # type: ignore[arg-type]
                 if row.split("\t")[1] < latest.get(row.split("\t")[0], "99999999")]
        out.write_text("\r\n".join([header, *rows, *older]) + "\r\n", encoding="utf-8")
    return target


def _graph_state(driver: Driver, settings: Settings) -> tuple[list[Any], list[Any]]:
    """Every node and relationship but the load runs, without what differs between runs by nature."""
    skip = ("load_run", "visible_since", "rf2_release_type")
    nodes = _read(driver, settings, """
        MATCH (n) WHERE NOT n:LoadRun
        RETURN labels(n) AS labels, coalesce(n.key, n.id) AS id, properties(n) AS props ORDER BY id""")
    rels = _read(driver, settings, """
        MATCH (a)-[r]->(b) WHERE NOT b:LoadRun
        RETURN coalesce(a.key, a.id) AS a, type(r) AS type, coalesce(b.key, b.id) AS b, properties(r) AS props
        ORDER BY a, type, b""")
    for item in (*nodes, *rels):
        item["props"] = {k: v for k, v in item["props"].items() if k not in skip}
    return nodes, rels


def test_a_full_release_gives_the_graph_of_its_latest_rows(clean_graph: Driver, settings: Settings,
                                                           tmp_path: Path) -> None:
    load_source(clean_graph, settings, "snomed", [PACKAGE], "20250301")
    from_snapshot = _graph_state(clean_graph, settings)
    full = _full_release(tmp_path / PACKAGE.name / "Full")
    clean_graph.execute_query("MATCH (n) DETACH DELETE n", database_=settings.neo4j_database)
    report = load_source(clean_graph, settings, "snomed", [full], "20250301")
    assert report.counts["rf2_release_type"] == "Full"
    assert _graph_state(clean_graph, settings) == from_snapshot
    assert len(from_snapshot[0]) > 100  # concepts, map rules, ICD-10-CM codes, release


def test_the_fixture_full_folder_lacks_relationships_and_is_refused_before_writing(
    clean_graph: Driver, settings: Settings
) -> None:
    with pytest.raises(WrongFileError) as caught:
        load_source(clean_graph, settings, "snomed", [PACKAGE / "Full"], "20250301")
    assert caught.value.expected == "a sct2_Relationship_Full_<namespace>_<YYYYMMDD>.txt file"
    assert caught.value.file == str(PACKAGE / "Full")
    assert graph_counts(clean_graph, settings.neo4j_database) == (1, 0)  # only the failed LoadRun


# --- bad input -----------------------------------------------------------------------------------------------------


def _copy_snapshot(tmp_path: Path, release_date: str = "20250301") -> Path:
    """The fixture's Snapshot, its files renamed to ``release_date`` (a later release loads beside the loaded one)."""
    package = tmp_path / PACKAGE.name.replace("20250301", release_date)
    for source in SNAPSHOT.rglob("*.txt"):
        target = package / "Snapshot" / source.relative_to(SNAPSHOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target.with_name(source.name.replace("20250301", release_date)))
    return package


def test_a_truncated_map_file_names_its_line_and_leaves_the_graph_as_it_was(
    loaded: Driver, settings: Settings, tmp_path: Path
) -> None:
    package = _copy_snapshot(tmp_path, "20250901")
    map_file = next(package.rglob("der2_iisssccRefset_ExtendedMapSnapshot_*.txt"))
    raw = map_file.read_bytes()
    map_file.write_bytes(raw[: raw.index(b"\t447562003\t") + 5])  # cut inside the last row
    before = graph_counts(loaded, settings.neo4j_database)
    with pytest.raises(ParseError) as caught:
        load_source(loaded, settings, "snomed", [package], "20250901")
    assert (caught.value.file, caught.value.line, caught.value.field) == (str(map_file), 47, "columns")
    assert "cut short" in str(caught.value.found)
    nodes, rels = graph_counts(loaded, settings.neo4j_database)
    assert (nodes - 1, rels) == before


def test_a_map_row_for_a_concept_not_in_the_release_is_refused_and_the_graph_left_as_it_was(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    package = _copy_snapshot(tmp_path)
    map_file = next(package.rglob("der2_iisssccRefset_ExtendedMapSnapshot_*.txt"))
    map_file.write_bytes(map_file.read_bytes().replace(b"\t22298006\t1\t1\tTRUE\tALWAYS I21.9",
                                                       b"\t195662009\t1\t1\tTRUE\tALWAYS I21.9"))
    with pytest.raises(LoadError, match=r"row aba0d253-2c08-51d2-adff-453f51d51e8f referencedComponentId.*195662009"):
        load_source(clean_graph, settings, "snomed", [package], "20250301")
    assert graph_counts(clean_graph, settings.neo4j_database) == (1, 0)  # the failed LoadRun


def test_a_directory_without_rf2_files_or_a_wrong_release_name_is_refused(
    loaded: Driver, settings: Settings, tmp_path: Path
) -> None:
    before = graph_counts(loaded, settings.neo4j_database)
    with pytest.raises(WrongFileError, match="sct2_Concept_Snapshot"):
        load_source(loaded, settings, "snomed", [tmp_path], "20250901")
    with pytest.raises(LoadError, match="no such file or directory"):
        load_source(loaded, settings, "snomed", [tmp_path / "missing"], "20250901")
    with pytest.raises(LoadError, match="is the 20250301 release: load it as --release 20250301"):
        load_source(loaded, settings, "snomed", [PACKAGE], "20250901")
    nodes, rels = graph_counts(loaded, settings.neo4j_database)
    assert (nodes - 2, rels) == before  # two failed LoadRuns: the missing path is refused before a run starts


def test_rerunning_the_same_load_gives_the_same_graph(loaded: Driver, settings: Settings) -> None:
    before = graph_counts(loaded, settings.neo4j_database)
    report = run_load(loaded, settings.neo4j_database, SnomedLoader("Snapshot"), [PACKAGE],
                      ReleaseSpec("snomed", "20250301"))
    # the very same files (sha256): recognised before anything is written
    assert report.status == "unchanged"
    assert graph_counts(loaded, settings.neo4j_database) == before


def test_a_later_release_adds_its_own_memberships_and_map_links_and_retitles_the_shared_nodes(
    loaded: Driver, settings: Settings, tmp_path: Path
) -> None:
    package = _copy_snapshot(tmp_path, "20250901")
    descriptions = next(package.rglob("sct2_Description_Snapshot-en_*.txt"))
    descriptions.write_bytes(descriptions.read_bytes().replace(b"\tHeart failure\t", b"\tCardiac failure\t"))
    nodes_before, _ = graph_counts(loaded, settings.neo4j_database)
    report = load_source(loaded, settings, "snomed", [package], "20250901")
    assert report.counts["release_new"] is True
    later = "snomed@20250901"
    [graph] = _read(loaded, settings, f"""
        RETURN COUNT {{ (:{L.SnomedConcept})-[:{R.IN_RELEASE} {{release: $later}}]->() }} AS memberships,
               COUNT {{ (:{L.SnomedConcept})-[:{R.IN_RELEASE} {{release: $earlier}}]->() }} AS earlier_memberships,
               COUNT {{ ()-[:{R.IS_A} {{release: $later}}]->() }} AS is_a,
               COUNT {{ ()-[:{R.HAS_MAP_RULE} {{release: $later}}]->() }} AS map_links,
               COUNT {{ ()-[:{R.MAPS_TO} {{release: $later}}]->() }} AS targets""", later=later, earlier=RELEASE)
    assert graph == {"memberships": 46, "earlier_memberships": 46, "is_a": 45, "map_links": 45, "targets": 41}
    nodes_after, _ = graph_counts(loaded, settings.neo4j_database)
    assert nodes_after - nodes_before == 2  # the new Release and its LoadRun: concepts and map rules are shared
    titles = _read(loaded, settings, f"""
        MATCH (c:{L.Code} {{key: 'snomed|84114007'}})-[m:{R.IN_RELEASE}]->(r)
        RETURN c.title AS node, r.id AS release, m.title AS title ORDER BY release""")
    assert titles == [{"node": "Cardiac failure", "release": RELEASE, "title": "Heart failure"},
                      {"node": "Cardiac failure", "release": later, "title": "Cardiac failure"}]


def test_a_map_to_a_code_whose_second_character_is_a_letter_loads(clean_graph: Driver, settings: Settings,
                                                                   tmp_path: Path) -> None:
    # QA0.0101 (billable from April 2026): the target pattern used to demand a digit in second place.
    package = _copy_snapshot(tmp_path)
    map_file = next(package.rglob("der2_iisssccRefset_ExtendedMapSnapshot_*.txt"))
    raw = map_file.read_bytes()
    map_file.write_bytes(raw.replace(b"\tALWAYS I50.9\tI50.9\t", b"\tALWAYS QA0.0101\tQA0.0101\t", 1))
    load_source(clean_graph, settings, "snomed", [package], "20250301")
    rows = _read(clean_graph, settings, f"""
        MATCH (c:{L.Code} {{key: 'snomed|84114007'}})-[:{R.HAS_MAP_RULE}]->(mr:{L.MapRule})
              -[:{R.MAPS_TO}]->(t:{L.Code})
        WHERE mr.active RETURN t.key AS target""")
    assert rows == [{"target": "icd10cm|QA0.0101"}]
