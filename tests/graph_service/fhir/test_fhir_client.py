"""The /fhir endpoint through a real FHIR client (fhirpy) against `codegraph serve` in its own process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.parameters import Parameters
from fhir.resources.R4B.valueset import ValueSet
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import BaseFHIRError, ResourceNotFound

from codegraph.settings import Settings
from tests.graph_service.fhir.conftest import param, params, properties
from tests.graph_service.test_derivation_api import graph  # noqa: F401  SNOMED CT fixture + ICD-10-CM excerpts
from tests.served_api import served_api

REPO = Path(__file__).resolve().parents[3]
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SCT = "http://snomed.info/sct"


@pytest.fixture
def fhir(settings: Settings, tmp_path: Path) -> Iterator[SyncFHIRClient]:
    """`codegraph serve` against the tests' Neo4j, and a fhirpy client of its /fhir base with an engine key."""
    with served_api(settings, tmp_path) as (server, engine):
        yield SyncFHIRClient(f"{server.base_url}/fhir", extra_headers=engine)


def _operation(client: SyncFHIRClient, path: str, **kw: Any) -> dict[str, Any]:
    """An operation by GET with ``params``, or by POST of a Parameters resource as ``data``."""
    return dict(client.execute(path, method="post" if "data" in kw else "get", **kw))


@pytest.mark.usefixtures("reference_graph")
def test_a_fhir_client_looks_up_validates_and_expands_icd10cm(fhir: SyncFHIRClient) -> None:
    capability = fhir.resource("CapabilityStatement", **_operation(fhir, "metadata"))
    assert capability["fhirVersion"] == "4.0.1"
    found = fhir.resources("CodeSystem").search(url=ICD, version="FY2026").fetch()
    assert [(cs["id"], cs["version"], cs["content"]) for cs in found] == [("icd10cm-FY2026", "FY2026", "not-present")]
    lookup = Parameters.model_validate(_operation(fhir, "CodeSystem/$lookup", params={"system": ICD,
                                                                                       "code": "I50.9"}))
    body = lookup.model_dump()
    assert param(body, "display") == "Heart failure, unspecified" and properties(body, "parent") == ["I50"]
    posted = _operation(fhir, "CodeSystem/$validate-code", data={"resourceType": "Parameters", "parameter": [
        {"name": "url", "valueUri": ICD}, {"name": "code", "valueCode": "I50.9"},
        {"name": "display", "valueString": "Heart failure, unspecified"}]})
    assert param(posted, "result") is True
    expansion = ValueSet.model_validate(_operation(fhir, "ValueSet/$expand", params={
        "url": f"{ICD}?fhir_vs=isa/I50.2", "count": 3})).expansion
    assert expansion is not None and expansion.total == 5
    assert [c.code for c in expansion.contains or []] == ["I50.2", "I50.20", "I50.21"]
    with pytest.raises(ResourceNotFound) as missing:
        fhir.reference("CodeSystem", "icd10cm-FY1999").to_resource()
    assert "no CodeSystem with id 'icd10cm-FY1999'" in str(missing.value)
    with pytest.raises(BaseFHIRError) as unknown:
        _operation(fhir, "CodeSystem/$lookup", params={"system": ICD, "code": "I50.99"})
    assert "not-found" in str(unknown.value) and "'I50.99' is not in release icd10cm@FY2026" in str(unknown.value)


@pytest.mark.usefixtures("graph")
def test_a_fhir_client_translates_with_patient_context(fhir: SyncFHIRClient) -> None:
    body = _operation(fhir, "ConceptMap/$translate", data={"resourceType": "Parameters", "parameter": [
        {"name": "system", "valueUri": SCT}, {"name": "code", "valueCode": "65363002"},
        {"name": "targetsystem", "valueUri": ICD},
        {"name": "dependency", "part": [{"name": "element", "valueUri": "age"},
                                        {"name": "concept", "valueCodeableConcept": {"text": "4 months"}}]},
        {"name": "dependency", "part": [{"name": "element", "valueUri": "sex"}, {"name": "concept",
                                        "valueCodeableConcept": {"coding": [
                                            {"system": "http://hl7.org/fhir/administrative-gender",
                                             "code": "female"}]}}]}]})
    Parameters.model_validate(body)
    [group] = params(body, "map-group")
    assert (group["status"], group["concept"]["code"], group["priority"]) == ("mapped", "H66.90", 1)
    assert param(body, "result") is True
