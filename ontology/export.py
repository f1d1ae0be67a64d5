"""The ontology as OWL (RDF/XML, from owlready2) or Turtle (through rdflib)."""

from __future__ import annotations

import io

import rdflib

from ontology.model import ONTOLOGY_IRI, ontology

FORMATS = ("owl", "ttl")


def export_ontology(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    buf = io.BytesIO()
    ontology().save(file=buf, format="rdfxml")
    rdfxml = buf.getvalue().decode("utf-8")
    if fmt == "owl":
        return rdfxml
    graph = rdflib.Graph()
    graph.parse(data=rdfxml, format="xml", publicID=ONTOLOGY_IRI)
    graph.bind("cg", rdflib.Namespace(ONTOLOGY_IRI))
    return graph.serialize(format="turtle")
