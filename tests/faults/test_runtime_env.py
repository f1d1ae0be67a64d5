"""`codegraph neo4j start|status|stop` in a shell where `eval "$(codegraph neo4j env)"` was run."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.faults.harness import CODEGRAPH, REPO, FaultServer

pytestmark = pytest.mark.faults


def _shell(server: FaultServer, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env={**server.env, "CG": CODEGRAPH},
                          cwd=REPO, timeout=900, check=False)


def test_start_status_stop_after_eval_of_neo4j_env(loads_server: FaultServer) -> None:
    loads_server.start()
    done = _shell(loads_server, """
        set -e
        eval "$("$CG" neo4j env)"
        test -n "$NEO4J_PASSWORD" && test -n "$NEO4J_URI"
        "$CG" neo4j start
        "$CG" neo4j status > /dev/null
        "$CG" neo4j stop
        set +e; "$CG" neo4j status > /dev/null; echo "stopped-status-exit=$?"; set -e
        "$CG" neo4j start
        "$CG" neo4j status
    """)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "password file is missing" not in done.stderr and "is missing" not in done.stderr
    assert "stopped-status-exit=3" in done.stdout
    final = json.loads(done.stdout[done.stdout.index("{", done.stdout.index("stopped-status-exit")):])
    assert final["running"] is True and final["version"].startswith("Neo4j/5.26")
    assert final["bolt_uri"] == loads_server.settings.bolt_uri
