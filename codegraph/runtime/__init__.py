"""The project's own Neo4j server: provisioned from Maven Central, started and stopped locally."""
