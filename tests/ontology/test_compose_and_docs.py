"""Deployment files that cannot run here are kept correct by structure checks."""

from __future__ import annotations

from pathlib import Path

import yaml

from ontology.docs import ontology_markdown

REPO = Path(__file__).resolve().parents[2]


def test_compose_runs_neo4j_526_with_healthcheck_and_api_depending_on_it() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    neo4j = compose["services"]["neo4j"]
    api = compose["services"]["api"]
    assert neo4j["image"] == "neo4j:5.26-community"
    assert "NEO4J_PASSWORD" in neo4j["environment"]["NEO4J_AUTH"]
    assert any(v.split(":")[0] == "neo4j-data" for v in neo4j["volumes"]) and "neo4j-data" in compose["volumes"]
    assert "cypher-shell" in " ".join(neo4j["healthcheck"]["test"])
    assert api["build"] == "."
    assert api["depends_on"]["neo4j"]["condition"] == "service_healthy"
    assert api["environment"]["NEO4J_URI"] == "bolt://neo4j:7687"
    assert (REPO / "Dockerfile").read_text().count("codegraph") >= 2


def test_docs_ontology_md_is_generated_from_the_model() -> None:
    assert (REPO / "docs" / "ontology.md").read_text() == ontology_markdown()
