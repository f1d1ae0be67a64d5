"""MCD articles and payer rule files into the graph: policies, rules, group pairs, ranges, bad input, re-runs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from codegraph.settings import Settings
from loaders.coverage.payer_rules import PayerRulesError
from loaders.errors import LoadError, ParseError
from loaders.registry import load_source
from ontology.vocabulary import L, R
from tests.conftest import graph_counts, wipe_graph

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "coverage"
EXPORT = FIXTURES / "mcd_article_export"
PAYERS = sorted((FIXTURES / "payers").glob("*.yaml"))

# A few real ICD-10-CM FY2026 categories in the tabular XML layout, enough for hierarchies and ranges.
TINY_TABULAR = """<?xml version="1.0" encoding="utf-8"?>
<ICD10CM.tabular>
  <version>2026</version>
  <chapter>
    <name>9</name>
    <desc>Diseases of the circulatory system (I00-I99)</desc>
    <section id="I30-I5A">
      <desc>Other forms of heart disease (I30-I5A)</desc>
      <diag><name>I48</name><desc>Atrial fibrillation and flutter</desc>
        <diag><name>I48.0</name><desc>Paroxysmal atrial fibrillation</desc></diag>
        <diag><name>I48.1</name><desc>Persistent atrial fibrillation</desc>
          <diag><name>I48.11</name><desc>Longstanding persistent atrial fibrillation</desc></diag>
          <diag><name>I48.19</name><desc>Other persistent atrial fibrillation</desc></diag>
        </diag>
        <diag><name>I48.2</name><desc>Chronic atrial fibrillation</desc>
          <diag><name>I48.20</name><desc>Chronic atrial fibrillation, unspecified</desc></diag>
          <diag><name>I48.21</name><desc>Permanent atrial fibrillation</desc></diag>
        </diag>
        <diag><name>I48.9</name><desc>Unspecified atrial fibrillation and atrial flutter</desc>
          <diag><name>I48.91</name><desc>Unspecified atrial fibrillation</desc></diag>
          <diag><name>I48.92</name><desc>Unspecified atrial flutter</desc></diag>
        </diag>
      </diag>
      <diag><name>I50</name><desc>Heart failure</desc>
        <diag><name>I50.2</name><desc>Systolic (congestive) heart failure</desc>
          <diag><name>I50.20</name><desc>Unspecified systolic (congestive) heart failure</desc></diag>
          <diag><name>I50.21</name><desc>Acute systolic (congestive) heart failure</desc></diag>
          <diag><name>I50.22</name><desc>Chronic systolic (congestive) heart failure</desc></diag>
          <diag><name>I50.23</name><desc>Acute on chronic systolic (congestive) heart failure</desc></diag>
        </diag>
        <diag><name>I50.9</name><desc>Heart failure, unspecified</desc></diag>
      </diag>
    </section>
  </chapter>
  <chapter>
    <name>21</name>
    <desc>Factors influencing health status and contact with health services (Z00-Z99)</desc>
    <section id="Z00-Z13">
      <desc>Persons encountering health services for examinations (Z00-Z13)</desc>
      <diag><name>Z00</name><desc>Encounter for general examination without complaint</desc>
        <diag><name>Z00.0</name><desc>Encounter for general adult medical examination</desc>
          <diag><name>Z00.00</name>
            <desc>Encounter for general adult medical examination without abnormal findings</desc></diag>
          <diag><name>Z00.01</name>
            <desc>Encounter for general adult medical examination with abnormal findings</desc></diag>
        </diag>
      </diag>
    </section>
  </chapter>
</ICD10CM.tabular>
"""


def load_coverage_graph(driver: Driver, settings: Settings, work_dir: Path,
                        *extra: tuple[str, list[Path], str]) -> None:
    """An empty graph with a tiny ICD-10-CM FY2026 tabular, the MCD article fixture and the payer rules (and any
    ``extra`` (source, paths, release) loads): what the coverage tests ask about."""
    wipe_graph(driver, settings.neo4j_database)
    load_source(driver, settings, "icd10cm", [write_tiny_tabular(work_dir)], "FY2026")
    load_source(driver, settings, "mcd", [EXPORT], "2026-04")
    load_source(driver, settings, "payer_rules", PAYERS, "2026")
    for source, paths, release in extra:
        load_source(driver, settings, source, paths, release)


def write_tiny_tabular(folder: Path) -> Path:
    path = folder / "icd10cm-tabular-2026.xml"
    path.write_text(TINY_TABULAR)
    return path


def _read(driver: Driver, settings: Settings, cypher: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(cypher, params, database_=settings.neo4j_database)
    return [r.data() for r in records]


def _policy(driver: Driver, settings: Settings, document_id: str) -> dict[str, Any]:
    rows = _read(driver, settings, f"MATCH (p:{L.PayerPolicy} {{document_id: $d}}) RETURN properties(p) AS p",
                 d=document_id)
    assert len(rows) == 1, rows
    return rows[0]["p"]


def _diagnosis_edges(driver: Driver, settings: Settings, policy_id: str, rel_type: str) -> list[dict[str, Any]]:
    return _read(driver, settings, f"""
        MATCH (:{L.PayerPolicy} {{document_id: $d}})-[:{R.HAS_RULE}]->(r)-[e:`{rel_type}`]->(c:{L.Code})
        RETURN r.rule_id AS rule, c.code AS code, properties(e) AS edge ORDER BY rule, code""", d=policy_id)


def _assert_unchanged(driver: Driver, settings: Settings, before: tuple[int, int]) -> None:
    nodes, rels = graph_counts(driver, settings.neo4j_database)
    assert (nodes - 1, rels) == before  # only the failed LoadRun record is new


# ---- MCD articles ---------------------------------------------------------------------------------------
def test_mcd_load_counts_policies_rules_and_covered_pairs(clean_graph: Driver, settings: Settings) -> None:
    report = load_source(clean_graph, settings, "mcd", [EXPORT], "2026-04")
    assert report.release == "mcd@2026-04" and report.status == "completed"
    c = report.counts
    assert (c["payers"], c["policies"], c["rules"], c["procedure_edges"]) == (1, 3, 5, 14)
    assert (c["articles_paired"], c["articles_needing_review"], c["group_pairs"]) == (2, 1, 3)
    # Paired rules: A59001 3 procedures x 7 diagnoses, A59002 3 x 3 and 2 x 3.
    pairs = _read(clean_graph, settings, f"""
        MATCH (p:{L.Code})-[:{R.COVERED_BY}]->(r:{L.PolicyRule})-[e:{R.COVERS_DIAGNOSIS} {{paired: true}}]->(d)
        RETURN count(DISTINCT [r.key, p.code, d.code]) AS n""")[0]["n"]
    assert pairs == 36
    visible = _read(clean_graph, settings, f"""
        MATCH (pol:{L.PayerPolicy})-[:{R.IN_RELEASE}]->(rel:{L.Release} {{id: 'mcd@2026-04', status: 'visible'}})
        MATCH (pol)-[:{R.ISSUED_BY}]->(payer:{L.Payer})
        RETURN collect(DISTINCT payer.id) AS payers, count(pol) AS n""")[0]
    assert visible == {"payers": ["medicare"], "n": 3}


def test_echo_article_pairs_its_group_and_denies_screening(clean_graph: Driver, settings: Settings) -> None:
    load_source(clean_graph, settings, "mcd", [EXPORT], "2026-04")
    echo = _policy(clean_graph, settings, "A59001")
    assert (echo["version"], echo["kind"], echo["status"], echo["needs_review"]) == (3, "mcd_article", "active", False)
    assert (echo["contractor_numbers"], echo["jurisdictions"]) == (["90101"], ["NJ", "NY"])
    covered = _diagnosis_edges(clean_graph, settings, "A59001", R.COVERS_DIAGNOSIS)
    assert {e["rule"] for e in covered} == {"hcpc-1/covered-1"} and len(covered) == 7
    dyspnea = next(e["edge"] for e in covered if e["code"] == "R06.00")
    assert dyspnea["asterisk"] is True and dyspnea["note"].startswith("* Symptom codes")
    assert (dyspnea["scope"], dyspnea["group"], dyspnea["paired"]) == ("code", 1, True)
    denied = _diagnosis_edges(clean_graph, settings, "A59001", R.DENIES_DIAGNOSIS)
    assert [(e["code"], e["edge"]["listed_as"]) for e in denied] == [("Z00.00", "noncovered group 1")]


def test_two_group_article_makes_one_rule_per_pair(clean_graph: Driver, settings: Settings) -> None:
    load_source(clean_graph, settings, "mcd", [EXPORT], "2026-04")
    rules = _read(clean_graph, settings, f"""
        MATCH (:{L.PayerPolicy} {{document_id: 'A59002'}})-[:{R.HAS_RULE}]->(r)<-[:{R.COVERED_BY}]-(p)
        RETURN r.rule_id AS rule, r.hcpc_group AS h, r.covered_group AS c, collect(p.code) AS procs ORDER BY rule""")
    assert [(r["rule"], r["h"], r["c"], sorted(r["procs"])) for r in rules] == [
        ("hcpc-1/covered-1", 1, 1, ["93306", "93307", "93308"]), ("hcpc-2/covered-2", 2, 2, ["93312", "93315"])]
    policy = _policy(clean_graph, settings, "A59002")
    assert (policy["contractor_numbers"], policy["jurisdictions"]) == (["90101", "90211"], ["NJ", "NY", "OR"])


def test_needs_review_article_is_flagged_and_keeps_its_diagnoses_unpaired(clean_graph: Driver,
                                                                          settings: Settings) -> None:
    load_source(clean_graph, settings, "mcd", [EXPORT], "2026-04")
    spine = _policy(clean_graph, settings, "A59003")
    assert spine["needs_review"] is True and "group 1" in spine["review_reason"]
    assert str(spine["effective_to"]) == "2025-06-30" and spine["status"] == "retired"
    covered = _diagnosis_edges(clean_graph, settings, "A59003", R.COVERS_DIAGNOSIS)
    assert {e["rule"] for e in covered} == {"hcpc-1/unpaired", "hcpc-2/unpaired"}
    assert len(covered) == 12 and all(e["edge"]["paired"] is False for e in covered)
    assert {e["code"] for e in covered} == {"G83.4", "M48.061", "M51.16", "M54.16", "C79.51", "M48.062"}


def test_bad_mcd_file_is_located_and_leaves_the_graph_as_it_was(clean_graph: Driver, settings: Settings,
                                                                 tmp_path: Path) -> None:
    load_source(clean_graph, settings, "payer_rules", PAYERS, "2026")
    before = graph_counts(clean_graph, settings.neo4j_database)
    broken = tmp_path / "export"
    shutil.copytree(EXPORT, broken)
    covered = broken / "article_x_icd10_covered.csv"
    covered.write_text(covered.read_text().replace('"I50.22"', '"I5022"'))
    with pytest.raises(ParseError) as err:
        load_source(clean_graph, settings, "mcd", [broken], "2026-04")
    assert err.value.file.endswith("article_x_icd10_covered.csv")
    assert (err.value.line, err.value.field) == (4, "icd10_code_id")
    _assert_unchanged(clean_graph, settings, before)


def test_article_naming_an_unknown_contractor_is_refused(clean_graph: Driver, settings: Settings,
                                                         tmp_path: Path) -> None:
    broken = tmp_path / "export"
    shutil.copytree(EXPORT, broken)
    links = broken / "article_x_contractor.csv"
    links.write_text(links.read_text().replace('"59003","2","6","902"', '"59003","2","6","903"'))
    before = graph_counts(clean_graph, settings.neo4j_database)
    with pytest.raises(LoadError, match=r"contractor \(903, 1, 2\) for article 59003 version 2"):
        load_source(clean_graph, settings, "mcd", [broken], "2026-04")
    _assert_unchanged(clean_graph, settings, before)


def test_rerunning_the_mcd_load_gives_the_same_graph(clean_graph: Driver, settings: Settings) -> None:
    load_source(clean_graph, settings, "mcd", [EXPORT], "2026-04")
    before = graph_counts(clean_graph, settings.neo4j_database)
    report = load_source(clean_graph, settings, "mcd", [EXPORT], "2026-04")
    assert report.status == "unchanged"  # the very same files (sha256): recognised before anything is written
    assert graph_counts(clean_graph, settings.neo4j_database) == before


# ---- payer rule files -------------------------------------------------------------------------------------
def test_payer_rules_load_counts(clean_graph: Driver, settings: Settings) -> None:
    report = load_source(clean_graph, settings, "payer_rules", PAYERS, "2026")
    c = report.counts
    assert report.release == "payer_rules@2026"
    assert (c["payer_files"], c["payers"], c["policies"], c["rules"], c["procedure_edges"]) == (2, 2, 8, 8, 21)
    assert c["icd10cm_releases_for_ranges"] == [] and c["ranges_to_categories"] == 5
    knee = _policy(clean_graph, settings, "ACME-ORTH-002")
    assert (knee["kind"], knee["plans"], knee["needs_review"], str(knee["effective_from"])) == (
        "commercial", ["acme-ppo"], False, "2023-07-01")
    rule = _read(clean_graph, settings, f"""MATCH (:{L.PayerPolicy} {{document_id: 'ACME-ORTH-002'}})
        -[:{R.HAS_RULE}]->(r) RETURN properties(r) AS r""")[0]["r"]
    assert (rule["prior_authorization"], rule["frequency_limits"]) == (True, ["2 per lifetime"])
    assert rule["prior_authorization_notes"].startswith("Submit imaging")


def test_procedure_ranges_expand_to_every_code(clean_graph: Driver, settings: Settings) -> None:
    load_source(clean_graph, settings, "payer_rules", PAYERS, "2026")
    rows = _read(clean_graph, settings, f"""
        MATCH (:{L.PayerPolicy} {{document_id: $d}})-[:{R.HAS_RULE}]->(r)<-[e:{R.COVERED_BY}]-(c:{L.Code})
        RETURN c.code AS code, c.system AS system, e.listed_as AS listed_as, labels(c) AS labels ORDER BY code""",
                 d="ACME-GI-007")
    assert [r["code"] for r in rows] == ["45378", "45380", "45381", "45382", "45383", "45384", "45385", "G0105",
                                         "G0121"]
    assert {r["listed_as"] for r in rows if r["code"].startswith("4538")} == {"45380-45385"}
    assert {r["system"] for r in rows if r["code"].startswith("G")} == {"hcpcs"}
    assert all(L.HCPCSCode in r["labels"] for r in rows if r["code"].startswith("G"))


def test_hierarchy_is_one_edge_listed_with_its_descendants(clean_graph: Driver, settings: Settings) -> None:
    load_source(clean_graph, settings, "payer_rules", PAYERS, "2026")
    edges = {e["code"]: e["edge"] for e in _diagnosis_edges(clean_graph, settings, "ACME-CARD-014",
                                                            R.COVERS_DIAGNOSIS)}
    assert (edges["I50"]["scope"], edges["I50"]["listed_as"]) == ("descendants", "I50 and below")
    assert edges["R06.00"]["note"] == "only when no cardiac cause is yet known"
    assert edges["I35.0"]["scope"] == "code"


def test_diagnosis_range_without_icd10cm_goes_to_the_endpoint_category(clean_graph: Driver,
                                                                       settings: Settings) -> None:
    load_source(clean_graph, settings, "payer_rules", PAYERS, "2026")
    ranged = [e for e in _diagnosis_edges(clean_graph, settings, "ACME-CARD-014", R.COVERS_DIAGNOSIS)
              if e["edge"]["listed_as"] == "I48.0-I48.21"]
    assert [(e["code"], e["edge"]["scope"], e["edge"]["range_from"], e["edge"]["range_to"]) for e in ranged] == [
        ("I48", "descendants", "I48.0", "I48.21")]


def test_diagnosis_range_with_icd10cm_loaded_expands_to_the_codes_inside(clean_graph: Driver, settings: Settings,
                                                                         tmp_path: Path) -> None:
    load_source(clean_graph, settings, "icd10cm", [write_tiny_tabular(tmp_path)], "FY2026")
    report = load_source(clean_graph, settings, "payer_rules", PAYERS, "2026")
    assert report.counts["icd10cm_releases_for_ranges"] == ["icd10cm@FY2026"]
    ranged = [e for e in _diagnosis_edges(clean_graph, settings, "ACME-CARD-014", R.COVERS_DIAGNOSIS)
              if e["edge"]["listed_as"] == "I48.0-I48.21"]
    # I48.11/I48.19 sit under I48.1; I48.2 itself is out (a code below it could pass I48.21); I48.9x are out.
    assert [e["code"] for e in ranged] == ["I48.0", "I48.1", "I48.20", "I48.21"]
    assert all(e["edge"]["scope"] == "descendants" for e in ranged)
    release = _read(clean_graph, settings, f"MATCH (r:{L.Release} {{id: 'payer_rules@2026'}}) "
                                           "RETURN r.icd10cm_ranges_against AS ids")[0]
    assert release["ids"] == ["icd10cm@FY2026"]


def test_bad_yaml_is_located_and_leaves_the_graph_as_it_was(clean_graph: Driver, settings: Settings,
                                                            tmp_path: Path) -> None:
    load_source(clean_graph, settings, "mcd", [EXPORT], "2026-04")
    before = graph_counts(clean_graph, settings.neo4j_database)
    bad = tmp_path / "acme_health.yaml"
    bad.write_text(PAYERS[0].read_text().replace('- "93307-93308"', '- "9330"'))
    with pytest.raises(PayerRulesError) as err:
        load_source(clean_graph, settings, "payer_rules", [PAYERS[1], bad], "2026")
    assert f"{bad}:22" in str(err.value) and err.value.field == "policies[0].procedures[1]"
    _assert_unchanged(clean_graph, settings, before)


def test_an_oversized_procedure_range_is_named(clean_graph: Driver, settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "acme_health.yaml"
    bad.write_text(PAYERS[0].read_text().replace('"93307-93308"', '"10000-19999"'))
    before = graph_counts(clean_graph, settings.neo4j_database)
    with pytest.raises(ParseError) as err:
        load_source(clean_graph, settings, "payer_rules", [bad], "2026")
    assert err.value.field == "policies[0].procedures[1]" and "10000 codes" in str(err.value)
    _assert_unchanged(clean_graph, settings, before)


def test_a_payer_id_in_two_files_is_refused(clean_graph: Driver, settings: Settings, tmp_path: Path) -> None:
    twin = tmp_path / "acme_again.yaml"
    twin.write_text(PAYERS[0].read_text())
    before = graph_counts(clean_graph, settings.neo4j_database)
    with pytest.raises(ParseError, match="acme_health") as err:
        load_source(clean_graph, settings, "payer_rules", [PAYERS[0], twin], "2026")
    assert err.value.file == str(twin) and err.value.field == "payer.id"
    _assert_unchanged(clean_graph, settings, before)


def test_rerunning_the_payer_rules_load_gives_the_same_graph(clean_graph: Driver, settings: Settings) -> None:
    load_source(clean_graph, settings, "payer_rules", PAYERS, "2026")
    before = graph_counts(clean_graph, settings.neo4j_database)
    report = load_source(clean_graph, settings, "payer_rules", PAYERS, "2026")
    assert report.status == "unchanged"  # the very same files (sha256): recognised before anything is written
    assert graph_counts(clean_graph, settings.neo4j_database) == before


def test_the_coverage_graph_conforms_to_the_ontology(clean_graph: Driver, settings: Settings, tmp_path: Path) -> None:
    from ontology.check import check_graph

    load_source(clean_graph, settings, "icd10cm", [write_tiny_tabular(tmp_path)], "FY2026")
    load_source(clean_graph, settings, "mcd", [EXPORT], "2026-04")
    load_source(clean_graph, settings, "payer_rules", PAYERS, "2026")
    assert [str(v) for v in check_graph(clean_graph, settings.neo4j_database)] == []
