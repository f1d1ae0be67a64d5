# The graph-query API. Neo4j runs as its own service (see docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY codegraph ./codegraph
COPY ontology ./ontology
COPY loaders ./loaders
COPY graph_service ./graph_service
COPY queries ./queries
RUN pip install --no-cache-dir .
ENV CODEGRAPH_API_HOST=0.0.0.0 CODEGRAPH_API_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["codegraph", "serve"]
