"""How far the online first load is from ``neo4j-admin database import`` (the offline ceiling), same release.

Issue 9 names the offline importer as the reference for a first load into an empty database. This measures,
in one run on the same machine:

- **offline**: the subgraph one release load writes (its code nodes with their labels and properties, the
  Release node, every relationship stamped with the release: ``IN_RELEASE``, ``IS_A``, note edges, …) exported
  from a graph that holds the release to the importer's CSV layout, then ``neo4j-admin database import full``
  into an empty scratch store, the server started and the ontology's schema applied (index population
  included: the online path pays for its indexes too);
- **online**: ``codegraph``'s loader of the same release into another empty scratch server with the schema
  applied (parse, write, diff, promotion: ``LoadReport.seconds``).

Both exclude the JVM start of the server they write into. The export itself is not timed: an offline first-load
path would write the CSV from the parsed records instead of the graph.

Usage: python -m bench.admin_import [--source icd10cm --version FY2026]   (the release must be loaded in the
graph ``NEO4J_URI``/the local server points at; the bundled files of that release are loaded online)
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from neo4j import Driver
from neo4j.time import Date, DateTime

from bench.common import load_average
from bench.loads import scratch_neo4j
from codegraph.db import open_driver
from codegraph.runtime.local_server import ADMIN_ENTRY_POINT, LocalNeo4j
from codegraph.settings import Settings, get_settings
from loaders.bundled import bundled_datasets
from loaders.registry import load_source
from ontology.schema import apply_schema

# Everything a release load writes: nodes reached through the release's relationships, and those relationships.
RELEASE_NODES = """
MATCH (r:Release {id: $release})
CALL (r) {
  MATCH (n)-[:IN_RELEASE]->(r) RETURN n
  UNION
  MATCH (n)-[e]->() WHERE e.release = $release RETURN n
  UNION
  MATCH ()-[e]->(n) WHERE e.release = $release RETURN n
  UNION
  RETURN r AS n
}
RETURN DISTINCT elementId(n) AS id, labels(n) AS labels, properties(n) AS props
"""
RELEASE_RELS = """
MATCH (r:Release {id: $release})
CALL (r) {
  MATCH (a)-[e:IN_RELEASE]->(r) RETURN a, e, r AS b
  UNION
  MATCH (a)-[e]->(b) WHERE e.release = $release AND type(e) <> 'IN_RELEASE' RETURN a, e, b
}
RETURN elementId(a) AS start, elementId(b) AS end, type(e) AS type, properties(e) AS props
"""


def _csv_value(value: Any) -> str:
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, DateTime):
        return value.iso_format()
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _type_of(values: list[Any]) -> str:
    """The importer's column type for a property: what its non-null values are."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "boolean"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "long"
    if present and all(isinstance(v, float) for v in present):
        return "double"
    if present and all(isinstance(v, list) for v in present):
        return "string[]"
    if present and all(isinstance(v, Date) for v in present):
        return "date"
    if present and all(isinstance(v, DateTime) for v in present):
        return "datetime"
    return "string"


def _write(path: Path, leading: list[str], rows: list[tuple[list[str], dict[str, Any]]]) -> int:
    keys = sorted({k for _, props in rows for k in props})
    types = {k: _type_of([props.get(k) for _, props in rows]) for k in keys}
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(leading + [f"{k}:{types[k]}" for k in keys])
        for head, props in rows:
            out.writerow(head + [_csv_value(props.get(k)) for k in keys])
    return len(rows)


def export_release(driver: Driver, database: str, release: str, out_dir: Path) -> dict[str, int]:
    """Per label set and relationship type, one CSV each (the importer wants one header per file)."""
    nodes: dict[tuple[str, ...], list[tuple[list[str], dict[str, Any]]]] = {}
    with driver.session(database=database) as session:
        for rec in session.run(RELEASE_NODES, release=release):
            labels = tuple(sorted(rec["labels"]))
            nodes.setdefault(labels, []).append(([rec["id"], ";".join(labels)], dict(rec["props"])))
        rels: dict[str, list[tuple[list[str], dict[str, Any]]]] = {}
        for rec in session.run(RELEASE_RELS, release=release):
            rels.setdefault(rec["type"], []).append(([rec["start"], rec["end"], rec["type"]], dict(rec["props"])))
    counts = {"nodes": 0, "relationships": 0}
    for i, (_labels, rows) in enumerate(sorted(nodes.items())):
        counts["nodes"] += _write(out_dir / f"nodes-{i}.csv", [":ID", ":LABEL"], rows)
    for rel_type, rows in sorted(rels.items()):
        counts["relationships"] += _write(out_dir / f"rels-{rel_type}.csv", [":START_ID", ":END_ID", ":TYPE"], rows)
    return counts


def offline_import(like: Settings, csv_dir: Path, work_dir: Path) -> dict[str, float]:
    """Import into an empty scratch store, then start it and apply the schema; seconds of each step."""
    with scratch_neo4j(work_dir, like) as settings:
        server = LocalNeo4j(settings)
        server.stop()  # the importer needs the database offline; the scratch store is fresh and empty
        cmd = [server._require_java(), "-cp", server._classpath(), ADMIN_ENTRY_POINT, "database", "import", "full",
               settings.neo4j_database, "--overwrite-destination=true", "--verbose", "--array-delimiter=;",
               f"--report-file={work_dir / 'import.report'}"]
        cmd += [f"--nodes={p}" for p in sorted(csv_dir.glob("nodes-*.csv"))]
        cmd += [f"--relationships={p}" for p in sorted(csv_dir.glob("rels-*.csv"))]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=server._java_env(), check=False)
        imported = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"neo4j-admin database import failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
        server.start()
        with open_driver(settings) as driver:
            t1 = time.perf_counter()
            apply_schema(driver, settings.neo4j_database)
            schema = time.perf_counter() - t1
    return {"import": imported, "schema_and_index_population": schema, "total": imported + schema}


def online_load(like: Settings, source: str, version: str, work_dir: Path) -> dict[str, float]:
    paths = next(list(d.paths) for d in bundled_datasets() if (d.source, d.version) == (source, version))
    with scratch_neo4j(work_dir, like) as settings, open_driver(settings) as driver:
        t0 = time.perf_counter()
        apply_schema(driver, settings.neo4j_database)
        schema = time.perf_counter() - t0
        report = load_source(driver, settings, source, paths, version)
    return {"schema": schema, "load": report.seconds, "total": schema + report.seconds, "rows": report.stats.rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", default="icd10cm")
    ap.add_argument("--version", default="FY2026")
    args = ap.parse_args()
    settings = get_settings()
    release = f"{args.source}@{args.version}"
    with tempfile.TemporaryDirectory(prefix="admin-import-", dir=settings.state_dir.parent) as tmp:
        work = Path(tmp)
        csv_dir = work / "csv"
        csv_dir.mkdir()
        with open_driver(settings) as driver:
            counts = export_release(driver, settings.neo4j_database, release, csv_dir)
        print(f"{release}: {counts['nodes']:,} nodes, {counts['relationships']:,} relationships exported; "
              f"load average {load_average()}", flush=True)
        offline = offline_import(settings, csv_dir, work)
        online = online_load(settings, args.source, args.version, work)
        offline_again = offline_import(settings, csv_dir, work)
    best_offline = min(offline["total"], offline_again["total"])
    print(f"offline (neo4j-admin import + schema): {offline} / again {offline_again}")
    print(f"online (codegraph load, schema first): {online}")
    print(f"online / offline: {online['total'] / best_offline:.1f}x the offline ceiling's time; "
          f"load average {load_average()}")


if __name__ == "__main__":
    main()
