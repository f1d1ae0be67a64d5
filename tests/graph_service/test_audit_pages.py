"""Auditors' answers page with a cursor and say when they are cut; CSV on request; release names as the code
endpoints take them — on the real bundled ICD-10-CM releases."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.usefixtures("reference_graph")


def test_a_named_query_pages_with_a_cursor_to_the_end(client: TestClient, auditor) -> None:  # type: ignore[no-untyped-def]
    url, body = "/v1/queries/code_history", {"params": {"code": "E11.9"}}
    first = client.post(url, params={"limit": 2}, json=body, headers=auditor)
    assert first.status_code == 200, first.text
    page = first.json()
    assert page["truncated"] is True and page["next"] and first.headers["X-Truncated"] == "true"
    assert 'rel="next"' in first.headers["Link"]
    second = client.post(url, params={"limit": 2, "cursor": page["next"]}, json=body, headers=auditor).json()
    assert second["truncated"] is False and second["next"] is None
    releases = [r["release"] for r in page["rows"] + second["rows"]]
    assert releases == ["icd10cm@FY2024", "icd10cm@FY2025", "icd10cm@FY2026"]
    # A cursor answers only the question it was made for.
    other = client.post(url, params={"limit": 2, "cursor": page["next"]}, json={"params": {"code": "I10"}},
                        headers=auditor)
    assert other.status_code == 404 and "another query or other parameters" in other.json()["detail"]


def test_accept_text_csv_gives_csv(client: TestClient, auditor) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/queries/code_history", json={"params": {"code": "E11.9"}},
                    headers={**auditor, "Accept": "text/csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["release"] for row in rows] == ["icd10cm@FY2024", "icd10cm@FY2025", "icd10cm@FY2026"]
    assert rows[0]["billable"] == "True"
    audit = client.get("/v1/audit/coder-patterns", headers={**auditor, "Accept": "text/csv"})
    assert audit.status_code == 200 and audit.headers["content-type"].startswith("text/csv")
    assert audit.headers["X-Truncated"] == "false"


def test_named_queries_take_release_names_as_the_code_endpoints_do(client: TestClient, auditor) -> None:  # type: ignore[no-untyped-def]
    short = client.get("/v1/audit/retired-codes", params={"to_release": "FY2026"}, headers=auditor)
    assert short.status_code == 200, short.text
    missing = client.get("/v1/audit/retired-codes", params={"to_release": "FY1999"}, headers=auditor)
    assert missing.status_code == 404 and "icd10cm@FY2026" in missing.json()["detail"]
    r = client.post("/v1/queries/assignments_using_retired_codes", json={"params": {"to_release": "fy2025"}},
                    headers=auditor)
    assert r.status_code == 200, r.text


def test_query_header_examples_name_ids_of_the_demo_data(client: TestClient, auditor) -> None:  # type: ignore[no-untyped-def]
    listed = {q["name"]: q for q in client.get("/v1/queries", headers=auditor).json()}
    assert "enc-0000001" in listed["encounter_trace"]["example"]  # the demo's encounters are enc-0000001 …
    assert "enc-1'" not in listed["encounter_trace"]["example"]
