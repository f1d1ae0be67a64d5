#!/usr/bin/env bash
# The main job: set up, start the local Neo4j, apply the schema, load the bundled data, serve the API.
set -euo pipefail
cd "$(dirname "$0")/.."
# Setup's pip output is kept out of the way (shown only if it fails): the demo's own progress is what matters.
echo "setup: .venv and Java/Maven checks (a fresh clone installs the packages first: a minute or two) …" >&2
started=$SECONDS
log=$(mktemp)
if ! bash scripts/setup.sh >"$log" 2>&1; then cat "$log" >&2; rm -f "$log"; exit 1; fi
rm -f "$log"
echo "setup: done in $((SECONDS - started))s" >&2
exec .venv/bin/codegraph demo "$@"
