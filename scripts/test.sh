#!/usr/bin/env bash
# Run the test suite against a real Neo4j: NEO4J_URI if set, else testcontainers if a Docker engine
# answers, else the project's own local Neo4j (started and stopped by the test session).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/pytest "$@"
