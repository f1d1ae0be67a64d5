"""Neo4j constraints and indexes generated from the ontology, applied idempotently."""

from __future__ import annotations

from dataclasses import dataclass

from neo4j import Driver

from ontology.vocabulary import NODE_SPECS, REL_SPECS

FULLTEXT_INDEX = "code_search"


@dataclass(frozen=True)
class SchemaStatement:
    name: str
    kind: str  # constraint | index
    cypher: str


def schema_statements() -> list[SchemaStatement]:
    """Uniqueness per node key, range indexes on lookups, one full-text index on titles and terms."""
    out: list[SchemaStatement] = []
    fulltext_labels: list[str] = []
    fulltext_props: list[str] = []
    for label, spec in sorted(NODE_SPECS.items()):
        if spec.key:
            name = f"{label.lower()}_{spec.key}_unique"
            out.append(SchemaStatement(
                name, "constraint",
                f"CREATE CONSTRAINT {name} IF NOT EXISTS FOR (n:`{label}`) REQUIRE n.`{spec.key}` IS UNIQUE",
            ))
        # Failed-run clean-up finds a run's nodes by load_run on each root label.
        lookups = (*spec.lookups, "load_run") if spec.key and label != "LoadRun" else spec.lookups
        for prop in lookups:
            name = f"{label.lower()}_{prop}"
            out.append(SchemaStatement(
                name, "index", f"CREATE INDEX {name} IF NOT EXISTS FOR (n:`{label}`) ON (n.`{prop}`)"
            ))
        if spec.fulltext:
            fulltext_labels.append(label)
            fulltext_props.extend(p for p in spec.fulltext if p not in fulltext_props)
    for rtype, rspec in sorted(REL_SPECS.items()):
        for prop in rspec.lookups:
            name = f"{rtype.lower()}_{prop}"
            out.append(SchemaStatement(
                name, "index", f"CREATE INDEX {name} IF NOT EXISTS FOR ()-[r:`{rtype}`]-() ON (r.`{prop}`)"
            ))
    if fulltext_labels:
        labels = "|".join(f"`{label}`" for label in fulltext_labels)
        props = ", ".join(f"n.`{p}`" for p in fulltext_props)
        out.append(SchemaStatement(
            FULLTEXT_INDEX, "index",
            f"CREATE FULLTEXT INDEX {FULLTEXT_INDEX} IF NOT EXISTS FOR (n:{labels}) ON EACH [{props}] "
            "OPTIONS {indexConfig: {`fulltext.eventually_consistent`: true}}",
        ))
    return out


# The full-text index is updated off the commit path (``fulltext.eventually_consistent``): kept in step with each
# transaction it was ≈ 30 % of the server's CPU for a new code node (measured: bench/RESULTS.md, "Loads, second
# pass"). Loads wait for it once, before promotion (``await_text_index``), so a visible release is searchable.
AWAIT_TEXT_INDEX = "CALL db.index.fulltext.awaitEventuallyConsistentIndexRefresh()"
_TEXT_INDEX_MODE = """
SHOW INDEXES YIELD name, options WHERE name = $name
RETURN options.indexConfig['fulltext.eventually_consistent'] AS eventual
"""


def await_text_index(driver: Driver, database: str) -> None:
    """Until every committed write is in the full-text index (search then sees it)."""
    driver.execute_query(AWAIT_TEXT_INDEX, database_=database)


def _drop_synchronous_text_index(driver: Driver, database: str) -> bool:
    """A full-text index made before it was eventually consistent is dropped (``apply_schema`` recreates it)."""
    records, _, _ = driver.execute_query(_TEXT_INDEX_MODE, name=FULLTEXT_INDEX, database_=database, routing_="r")
    if records and records[0]["eventual"] is not True:
        driver.execute_query(f"DROP INDEX {FULLTEXT_INDEX}", database_=database)
        return True
    return False


def apply_schema(driver: Driver, database: str) -> list[str]:
    """Create what is missing and wait for indexes to come online; returns the names applied.

    Every statement in one transaction: all or nothing, and a third of the time of one transaction each (0.74 s
    against 1.2-1.4 s for the 69 statements on a warm server; a fresh demo applies them on a cold one)."""
    statements = schema_statements()
    _drop_synchronous_text_index(driver, database)
    with driver.session(database=database) as session:
        session.execute_write(lambda tx: [tx.run(stmt.cypher).consume() for stmt in statements])
    driver.execute_query("CALL db.awaitIndexes(300)", database_=database)
    return [stmt.name for stmt in statements]


def missing_schema(driver: Driver, database: str) -> list[str]:
    """Names of generated constraints/indexes not present (empty when the schema is applied)."""
    expected = {s.name for s in schema_statements()}
    present: set[str] = set()
    for show in ("SHOW CONSTRAINTS YIELD name", "SHOW INDEXES YIELD name"):
        records, _, _ = driver.execute_query(show, database_=database, routing_="r")
        present |= {r["name"] for r in records}
    return sorted(expected - present)
