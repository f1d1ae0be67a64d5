#!/usr/bin/env bash
# The main job: set up, start the local Neo4j, apply the schema, load the bundled data, serve the API.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/codegraph demo "$@"
