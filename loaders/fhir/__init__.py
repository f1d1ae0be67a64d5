"""FHIR R4 encounter evidence: Bundle / NDJSON readers, validation and typed records for the graph."""
