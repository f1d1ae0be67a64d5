"""FHIR ValueSet resources stored in the graph, with their members resolved against the loaded releases."""
