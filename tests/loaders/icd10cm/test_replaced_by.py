"""REPLACED_BY links of an ICD-10-CM load: a billable code the previous release had and the new one drops, to the
new release's billable codes that extend it (written by the diff that runs after staging, as ``codegraph load``
runs it)."""

from __future__ import annotations

from pathlib import Path

from neo4j import Driver

from codegraph.settings import Settings
from loaders.registry import load_source
from ontology.vocabulary import L, R


def codes_file(path: Path, codes: list[tuple[str, str]]) -> Path:
    """The CMS ``icd10cm-codes`` layout: the dotless code padded to 7, a space, the long title."""
    path.write_text("".join(f"{code.replace('.', ''):<7} {title}\n" for code, title in codes))
    return path


def _load(driver: Driver, settings: Settings, path: Path, version: str) -> str:
    return load_source(driver, settings, "icd10cm", [path], version).run_id


def test_a_dropped_code_points_to_the_new_codes_that_extend_it_and_nothing_else_does(
    clean_graph: Driver, settings: Settings, tmp_path: Path
) -> None:
    older = codes_file(tmp_path / "fy2024.txt", [
        ("A00.0", "Cholera due to Vibrio cholerae 01, biovar cholerae"), ("C83.39", "Diffuse large B-cell lymphoma"),
        ("D00.00", "Carcinoma in situ of oral cavity"), ("E11.9", "Type 2 diabetes mellitus without complications")])
    newer = codes_file(tmp_path / "fy2025.txt", [
        ("A00.0", "Cholera due to Vibrio cholerae 01, biovar cholerae"),
        ("C83.390", "Primary central nervous system lymphoma"), ("C83.398", "Diffuse large B-cell lymphoma of other"),
        ("E11.9", "Type 2 diabetes mellitus without complications"), ("E11.90", "A made-up subcode of a kept code")])
    _load(clean_graph, settings, older, "FY2024")
    run = _load(clean_graph, settings, newer, "FY2025")
    records, _, _ = clean_graph.execute_query(
        f"""MATCH (d:{L.Code})-[r:{R.REPLACED_BY}]->(n:{L.Code})
            RETURN d.code AS old, n.code AS new, r.release AS release, r.from_release AS from, r.load_run AS run,
                   r.basis AS basis ORDER BY old, new""", database_=settings.neo4j_database)
    # D00.00 is dropped with nothing extending it; E11.9 is kept, so its new subcode replaces nothing.
    assert [dict(r) for r in records] == [
        {"old": "C83.39", "new": code, "release": "icd10cm@FY2025", "from": "icd10cm@FY2024", "run": run,
         "basis": "expanded into subcodes"} for code in ("C83.390", "C83.398")]
