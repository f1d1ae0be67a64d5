"""Property-based fuzzing of the whole API from its published OpenAPI schema (schemathesis), against the real
`codegraph serve` and Neo4j: no 5xx, and every response is what the schema says (status codes, problem+json,
bodies, headers); requests valid under the schema are accepted; unsupported methods are 405 with Allow.
Bounded in time: a fixed number of examples per operation and a wall-clock budget for the whole run."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from neo4j import Driver

from bench.served import Server, free_port, real_command, served
from codegraph.settings import Settings
from graph_service.app import create_app
from graph_service.models.shapes import SCTID_CONCEPT_PATTERN, SCTID_FORMAT
from graph_service.security import Role, new_key
from loaders.fhir.code_systems import verhoeff_check_digit
from tests.served_api import server_env

EXAMPLES = int(os.environ.get("CODEGRAPH_FUZZ_EXAMPLES", "12"))
BUDGET_S = float(os.environ.get("CODEGRAPH_FUZZ_BUDGET_S", "180"))
TABULAR = Path(__file__).resolve().parents[1] / "fixtures" / "icd10cm" / "icd10cm-tabular-excerpt.xml"
_KEY, _LINE = new_key(Role.maintainer)
_started: list[float] = []

# The checks that judge requests run on every operation: schema-violating requests must be refused (negative
# data rejection, everywhere), schema-valid ones accepted (positive data acceptance) except where a rule the
# published schema cannot state refuses some of them, and the service is right to:
POSITIVE_PENDING = {
    "/v1/cypher": "a query that does not compile is refused (400); no schema can say which text compiles",
    "/v1/encounters": "a FHIR Bundle body: R4's resource rules (references, periods, codes) are checked by the "
                      "FHIR models, not stated in the body schema",
    "/v1/encounters/{encounter_id}/coding": "a code's shape depends on its system, and a final assignment needs a "
                                            "principal diagnosis: rules across fields",
    "/v1/drg/group": "answered 422 for a code the grouper version does not know, a year whose grouper tables are "
                     "not loaded (the fuzz graph has none) or that the engine lacks: facts of the data, not the shape",
    "/v1/drg/opportunities": "as /v1/drg/group",
    "/v1/derive/icd10cm": "a patient.birth_date needs the date of service (`date`) and must not be after it: rules "
                          "across fields (found once the /fhir parameters changed the examples drawn)",
    "/v1/drg/what-if": "an alternative must fit the claim (remove a secondary diagnosis it has, at least one change)",
    "/v1/assignments/evaluate": "a diagnosis given twice is refused; JSON Schema's uniqueItems compares whole items, "
                                "not one field",
    "/v1/edits/claim": "a diagnosis sequence or line id given twice is refused (uniqueItems cannot say it either)",
    # The FHIR operations' GET forms declare their query parameters (graph_service/fhir/openapi.py) and pass it;
    # a POST body is a Parameters resource, whose inputs are items of one array: which must be there (code, or a
    # coding instead) and that each comes once is not something an array's item schema can say.
    **{f"POST /fhir/{op}": "a Parameters body: required and at-most-once parameters are array items, which the "
                           "item schema cannot require or keep unique by name" for op in (
        "CodeSystem/$lookup", "CodeSystem/$validate-code", "CodeSystem/$subsumes", "ValueSet/$expand",
        "ValueSet/$validate-code", "ConceptMap/$translate")},
}
_REQUEST_MODE = os.environ.get("CODEGRAPH_FUZZ_REQUEST_CHECKS", "1")  # 0: off everywhere; all: on everywhere
# A SNOMED CT concept id as the schema's `format` names it: the pattern plus a Verhoeff check digit.
schemathesis.openapi.format(SCTID_FORMAT, st.from_regex(SCTID_CONCEPT_PATTERN[:-1] + r"\Z").map(
    lambda digits: digits[:-1] + str(verhoeff_check_digit(digits[:-1]))))
# The schema the service publishes (it does not depend on settings): what the fuzzer generates from.
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


def excluded_checks(method: str, path: str) -> list:  # type: ignore[type-arg]
    """The request-side checks left out for an operation (pending by path, or by method and path)."""
    if _REQUEST_MODE == "0":
        return [schemathesis.checks.positive_data_acceptance, schemathesis.checks.negative_data_rejection]
    if _REQUEST_MODE != "all" and (path in POSITIVE_PENDING or f"{method.upper()} {path}" in POSITIVE_PENDING):
        return [schemathesis.checks.positive_data_acceptance]
    return []


@pytest.fixture(scope="module")
def fuzz_server(settings: Settings, driver: Driver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from loaders.registry import load_source
    from tests.conftest import wipe_graph

    wipe_graph(driver, settings.neo4j_database)  # a small real release, so lookups find codes as well as miss
    load_source(driver, settings, "icd10cm", [TABULAR], "FY2026")
    port = free_port()
    env = {**server_env(settings), "CODEGRAPH_API_KEYS": _LINE}
    with served("fuzz", real_command(port, 1), port, tmp_path_factory.mktemp("fuzz"), workers=1,
                ready_path="/readyz", env=env, timeout_s=300) as server:
        yield server


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_to_the_published_schema(case, fuzz_server: Server) -> None:  # type: ignore[no-untyped-def]
    if not _started:
        _started.append(time.monotonic())
    if time.monotonic() - _started[0] > BUDGET_S:
        pytest.skip(f"fuzzing budget of {BUDGET_S:.0f}s spent")
    # The real key replaces the generated one; a negative case that leaves the required key out is sent without it.
    dropped = case.meta is not None and case.meta.generation.mode.is_negative and "X-API-Key" not in (
        case.headers or {})
    case.call_and_validate(base_url=fuzz_server.base_url, headers={} if dropped else {"X-API-Key": _KEY},
                         excluded_checks=excluded_checks(case.method, case.operation.path))
