#!/usr/bin/env bash
# Install everything the project needs into .venv (idempotent) and check Java 17+ and Maven.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! command -v java >/dev/null; then echo "setup: Java 17+ is required (for Neo4j 5.26)" >&2; exit 1; fi
if ! command -v mvn >/dev/null; then echo "setup: Maven is required (to fetch Neo4j from Maven Central)" >&2; exit 1; fi
java_major=$(java -version 2>&1 | head -1 | sed -E 's/.*version "([0-9]+).*/\1/')
if [ "${java_major:-0}" -lt 17 ]; then echo "setup: Java 17+ required, found $java_major" >&2; exit 1; fi
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[dev]"
  touch "$stamp"
fi
