"""The engine-speed harness's own measuring tools: wrk's figures, CPU per request, py-spy stack parsing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import wait_for_quiet
from bench.http_load import WRK, Requests, run_wrk, write_script
from bench.proc_cpu import TreeCpu, pid_listening_on, process_tree
from bench.pyspy_profile import parse_collapsed
from bench.served import bare_command, free_port, served

needs_wrk = pytest.mark.skipif(not os.access(WRK, os.X_OK), reason="wrk is not installed (apt-get install wrk)")


@needs_wrk
def test_wrk_against_two_uvicorn_workers_counts_requests_latency_and_server_cpu(tmp_path: Path) -> None:
    port = free_port()
    with served("bare", bare_command(port, 2), port, tmp_path, workers=2, ready_path="/readyz",
                env={"BARE_RECORD_BYTES": "900"}) as server:
        assert len(process_tree(server.pid)) >= 3  # the supervisor and its two workers are charged together
        assert pid_listening_on(port) in process_tree(server.pid)
        script = write_script(tmp_path, "codes", Requests([f"/v1/codes/icd10cm/A0{i}.1" for i in range(10)]))
        before = TreeCpu(server.pid)
        result = run_wrk(server.base_url, script, connections=4, duration_s=2)
        cpu = TreeCpu(server.pid).since(before)
    assert result.requests > 50 and result.error_count == 0
    assert result.bytes > result.requests * 900  # every answer was the padded record
    lat = result.latency_ms
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert 0 < cpu / result.requests < 0.05  # CPU seconds per request: positive and plausible


@needs_wrk
def test_wrk_reports_non_2xx_answers_as_errors(tmp_path: Path) -> None:
    port = free_port()
    with served("bare", bare_command(port, 1), port, tmp_path, workers=1, ready_path="/readyz") as server:
        script = write_script(tmp_path, "missing", Requests(["/no/such/route"]))
        result = run_wrk(server.base_url, script, connections=2, duration_s=1)
    assert result.requests > 0 and result.errors["status"] == result.requests


@needs_wrk
def test_post_bodies_are_sent_as_given(tmp_path: Path) -> None:
    port = free_port()
    with served("bare", bare_command(port, 1, access_log=True), port, tmp_path, workers=1,
                ready_path="/readyz") as server:
        # The bare app has no POST route: FastAPI answers 405, which proves the method and path went out.
        script = write_script(tmp_path, "post", Requests(['{"a": 1}', '{"b": "x y"}'], method="POST",
                                                         path="/v1/codes/icd10cm/A01.1"))
        result = run_wrk(server.base_url, script, connections=1, duration_s=1)
    assert result.requests > 0 and result.errors["status"] == result.requests
    log = server.log.read_text()
    assert '"POST /v1/codes/icd10cm/A01.1 HTTP/1.1" 405' in log


def test_collapsed_stacks_give_own_and_total_time_without_idle_threads() -> None:
    text = "\n".join([
        'process 1:"python";serve (codegraph/cli.py:1);handler (app/routes.py:5);query (app/graph.py:9) 30',
        'process 1:"python";serve (codegraph/cli.py:1);handler (app/routes.py:5);dump (app/json.py:2) 10',
        'process 2:"python";walk (app/tree.py:3);walk (app/tree.py:3) 5',  # recursion counts once in total
        'process 2:"python";worker (threading.py:1);Condition.wait (threading.py:295) 50',  # idle
        # a spawned worker under its parent; its command line holds a ';'
        'process 1:"python";process 3:"python -c import x; x.main()";handler (app/routes.py:5) 7',
    ])
    busy, idle, own, total = parse_collapsed(text)
    assert (busy, idle) == (52, 50)
    assert own.most_common(1) == [("query (app/graph.py:9)", 30)]
    assert total["handler (app/routes.py:5)"] == 47
    assert own["handler (app/routes.py:5)"] == 7
    assert total["walk (app/tree.py:3)"] == 5
    assert "Condition.wait (threading.py:295)" not in own


def test_a_row_waits_for_busy_cores_no_longer_than_its_limit_and_says_how_busy_they_were() -> None:
    # Two busy loops (one per core of this machine kind): the cores cannot settle within the limit.
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        waited, busy = wait_for_quiet(2.0, window_s=0.5)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert 2.0 <= waited < 4.0
    assert busy >= 0.25


def test_a_row_that_asks_for_no_settling_starts_at_once() -> None:
    assert wait_for_quiet(0)[0] == 0.0
