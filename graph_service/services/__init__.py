"""Domain logic of the service: each module owns its Cypher; routes stay thin."""
