"""Every auditor query file runs unchanged in cypher-shell (fetched from Maven Central at the server's version),
with the parameters its header's example gives — against the real bundled ICD-10-CM releases."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from codegraph.settings import Settings

REPO = Path(__file__).resolve().parents[1]
QUERIES = sorted((REPO / "queries").glob("*.cypher"))


def _example_params(path: Path) -> list[str]:
    example = next(line for line in path.read_text().splitlines() if line.startswith("// example:"))
    words = shlex.split(example.removeprefix("// example:"))
    assert words[:3] == ["cypher-shell", "-f", f"queries/{path.name}"], example
    return words[3:]


@pytest.mark.usefixtures("reference_graph")
@pytest.mark.parametrize("path", QUERIES, ids=[p.stem for p in QUERIES])
def test_query_file_runs_in_cypher_shell(path: Path, settings: Settings, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    state = Path(os.environ.get("CODEGRAPH_TEST_STATE_DIR", REPO / "state" / "test-neo4j"))
    env = {**os.environ, "CODEGRAPH_STATE_DIR": str(state), "NEO4J_URI": settings.bolt_uri,
           "NEO4J_USERNAME": settings.neo4j_user, "NEO4J_PASSWORD": settings.resolved_password(),
           "NEO4J_DATABASE": settings.neo4j_database}
    done = subprocess.run([str(REPO / "scripts" / "cypher-shell.sh"), "--format", "plain", "-f", str(path),
                           *_example_params(path)], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not re.search(r"(?i)error", done.stderr), done.stderr[-2000:]
