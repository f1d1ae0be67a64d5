"""Bulk loading of coding assignments (NDJSON) onto encounters already in the graph."""
