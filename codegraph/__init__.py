"""codegraph: the knowledge-graph ontology service for medical coding.

This package holds what every part shares: settings, the Neo4j connection, the local
Neo4j runtime and the command line. The formal model lives in ``ontology``, the
loaders in ``loaders`` and the HTTP service in ``graph_service``.
"""

__version__ = "0.1.0"
