"""Posting a body both ways: as the engine sends it (the fast lane may answer) and routed through the app.

A query string sends a POST past the lane (``graph_service/fast_lane.py``) to its FastAPI route, which ignores
it. The API suites post through ``post_both_ways``, so every body they send also checks that the lane and the
route answer with the same status and the same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

ROUTED = {"via": "app"}


def lane_counts(client: TestClient) -> tuple[int, int]:
    stats = client.app.state.fast_lane  # type: ignore[attr-defined]
    return stats.answered, stats.passed_on


def post_both_ways(client: TestClient, path: str, body: Any, headers: dict[str, str]) -> Response:
    fast = client.post(path, json=body, headers=headers)
    routed = client.post(path, json=body, headers=headers, params=ROUTED)
    assert (fast.status_code, fast.headers["content-type"]) == (routed.status_code, routed.headers["content-type"])
    assert fast.content == routed.content, (path, fast.text[:300], routed.text[:300])
    return fast


def until_answered_in_lane(client: TestClient, send: Callable[[], Response]) -> None:
    """A release's tables are built in the background on first use; until then the app answers from the graph.
    ``send`` makes one request the lane answers once the tables are held."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        answered, _ = lane_counts(client)
        sent = send()
        assert sent.status_code == 200, sent.text[:300]
        if lane_counts(client)[0] > answered:
            return
        time.sleep(0.5)
    raise AssertionError("the request was never answered in the fast lane within 120 s")
