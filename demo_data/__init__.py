"""Synthetic demo and benchmark data: seeded inpatient encounters (FHIR R4 NDJSON) and their coding revisions."""
