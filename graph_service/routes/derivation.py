"""Deriving ICD-10-CM codes from SNOMED CT findings through the map's rules."""

from __future__ import annotations

from fastapi import APIRouter

from graph_service.deps import GraphDep, Reader
from graph_service.models.derivation import DeriveIcd10cmIn, DeriveIcd10cmOut
from graph_service.services.derivation import derive_icd10cm

router = APIRouter(prefix="/v1/derive", tags=["derivation"])


@router.post("/icd10cm", response_model=DeriveIcd10cmOut)
def post_derive_icd10cm(body: DeriveIcd10cmIn, graph: GraphDep, _: Reader) -> DeriveIcd10cmOut:
    """Per finding and map group: the ICD-10-CM code whose rule holds for this patient (or why a coder must
    decide), each rule evaluated in priority order, and the graph path that justifies the code."""
    return derive_icd10cm(graph, body)
