"""`codegraph apikey create|list|revoke`, keys the service accepts and stops accepting, the demo's keys minted once,
and `codegraph neo4j env` exporting what cypher-shell reads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from codegraph.apikeys import DEMO_LABEL, list_keys
from codegraph.demo import demo_keys
from codegraph.settings import Settings
from graph_service.security import load_key_hashes, role_of


def _cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "CODEGRAPH_API_KEYS"))}
    env["CODEGRAPH_STATE_DIR"] = str(state)
    return subprocess.run([sys.executable, "-m", "codegraph.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_create_list_and_revoke(tmp_path: Path) -> None:
    created = _cli(tmp_path, "apikey", "create", "--role", "auditor", "--label", "audit-team")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    keys_file = tmp_path / "api-keys"
    hashes = load_key_hashes("", keys_file)
    assert role_of(key, hashes) == "auditor"
    listed = _cli(tmp_path, "apikey", "list")
    assert listed.returncode == 0 and "audit-team" in listed.stdout and key not in listed.stdout
    key_id = listed.stdout.splitlines()[1].split()[0]
    revoked = _cli(tmp_path, "apikey", "revoke", key_id)
    assert revoked.returncode == 0 and f"revoked {key_id}" in revoked.stdout
    assert "audit-team" not in _cli(tmp_path, "apikey", "list").stdout
    assert _cli(tmp_path, "apikey", "revoke", key_id).returncode == 1


def test_a_second_demo_run_mints_no_new_keys(tmp_path: Path) -> None:
    settings = Settings(CODEGRAPH_STATE_DIR=tmp_path)
    first = demo_keys(settings)
    assert set(first) == {"engine", "auditor", "maintainer"}
    assert demo_keys(settings) == {}
    assert [e.label for e in list_keys(settings.api_keys_file)] == [DEMO_LABEL] * 3
    hashes = load_key_hashes("", settings.api_keys_file)
    assert role_of(first["engine"], hashes) == "engine"


def test_neo4j_env_exports_the_username_cypher_shell_reads(tmp_path: Path) -> None:
    (tmp_path / "neo4j-password").write_text("s3cret-pass\n")
    out = _cli(tmp_path, "neo4j", "env")
    assert out.returncode == 0, out.stderr
    exports = dict(line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines())
    assert exports["NEO4J_USERNAME"] == exports["NEO4J_USER"] == "neo4j"
    assert exports["NEO4J_PASSWORD"] == "s3cret-pass"


def test_ctrl_c_in_the_demo_says_neo4j_keeps_running_and_how_to_stop_it(settings: Settings, driver,  # type: ignore[no-untyped-def]
                                                                          monkeypatch) -> None:
    import io

    import pytest
    from rich.console import Console

    import codegraph.demo as demo

    def interrupted(*_: object) -> list[object]:
        raise KeyboardInterrupt  # what Ctrl-C raises in the main thread while the loads run

    monkeypatch.setattr(demo, "load_steps", interrupted)
    out = io.StringIO()
    with pytest.raises(SystemExit) as stopped:
        demo.run_demo(settings, serve_api=False, console=Console(file=out, width=200))
    assert stopped.value.code == 130
    text = out.getvalue()
    assert "Traceback" not in text and "keeps running" in text
    if settings.uses_local_neo4j:
        assert f"CODEGRAPH_BOLT_PORT={settings.local_bolt_port}" in text or settings.local_bolt_port == 7697
        assert "codegraph neo4j stop" in text
