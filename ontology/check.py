"""Does the graph conform to the ontology? Undeclared relationships, wrong endpoints, missing properties."""

from __future__ import annotations

from dataclasses import dataclass, field

from neo4j import Driver, RoutingControl

from ontology.vocabulary import NODE_SPECS, REL_SPECS

EXAMPLES = 3


@dataclass
class Violation:
    kind: str  # undeclared-relationship | wrong-endpoints | missing-property | undeclared-label
    subject: str
    count: int
    examples: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject} ×{self.count} (e.g. {', '.join(self.examples)})"


def _read(driver: Driver, database: str, cypher: str, **params: object) -> list[dict]:
    records, _, _ = driver.execute_query(cypher, params, database_=database, routing_=RoutingControl.READ)
    return [r.data() for r in records]


def check_graph(driver: Driver, database: str) -> list[Violation]:
    out: list[Violation] = []
    declared_labels = set(NODE_SPECS)
    for row in _read(driver, database, "CALL db.labels() YIELD label RETURN label"):
        if row["label"] not in declared_labels:
            n = _read(driver, database, f"MATCH (n:`{row['label']}`) RETURN count(n) AS n")[0]["n"]
            if n:
                out.append(Violation("undeclared-label", row["label"], n))

    # One pass over relationship types × endpoint label sets.
    shapes = _read(
        driver, database,
        """MATCH (a)-[r]->(b)
           WITH type(r) AS type, labels(a) AS from, labels(b) AS to, r
           WITH type, from, to, count(r) AS n, collect(elementId(r))[..$k] AS examples
           RETURN type, from, to, n, examples""",
        k=EXAMPLES,
    )
    for s in shapes:
        spec = REL_SPECS.get(s["type"])
        if spec is None:
            out.append(Violation("undeclared-relationship", s["type"], s["n"], s["examples"]))
            continue
        if not (set(s["from"]) & set(spec.domain)) or not (set(s["to"]) & set(spec.range)):
            out.append(Violation(
                "wrong-endpoints",
                f"({':'.join(sorted(s['from']))})-[:{s['type']}]->({':'.join(sorted(s['to']))}); declared "
                f"({'|'.join(spec.domain)})->({'|'.join(spec.range)})",
                s["n"], s["examples"],
            ))
        for prop in spec.required:
            missing = _read(
                driver, database,
                f"""MATCH (a)-[r:`{s['type']}`]->(b) WHERE r.`{prop}` IS NULL
                    RETURN count(r) AS n, collect(elementId(r))[..$k] AS examples""",
                k=EXAMPLES,
            )[0]
            if missing["n"]:
                out.append(Violation("missing-property", f"[:{s['type']}].{prop}", missing["n"], missing["examples"]))
    for label, spec in NODE_SPECS.items():
        inherited = set(NODE_SPECS[spec.parent].required) if spec.parent else set()
        for prop in spec.required:
            if prop in inherited:  # checked once, on the ancestor label every such node carries
                continue
            missing = _read(
                driver, database,
                f"""MATCH (n:`{label}`) WHERE n.`{prop}` IS NULL
                    RETURN count(n) AS n, collect(coalesce(n.key, n.id, elementId(n)))[..$k] AS examples""",
                k=EXAMPLES,
            )[0]
            if missing["n"]:
                out.append(Violation("missing-property", f"(:{label}).{prop}", missing["n"], missing["examples"]))
    return out
