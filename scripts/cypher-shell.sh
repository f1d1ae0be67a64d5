#!/usr/bin/env bash
# cypher-shell from Maven Central (org.neo4j:cypher-shell at the server's version, as pinned in
# codegraph/runtime/pom.xml), fetched once into the state dir, then run with the arguments given:
#   eval "$(codegraph neo4j env)"          # NEO4J_URI, NEO4J_USERNAME, NEO4J_PASSWORD, NEO4J_DATABASE
#   scripts/cypher-shell.sh -f queries/code_history.cypher -P 'system => "icd10cm"' -P 'code => "E11.9"'
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
state="${CODEGRAPH_STATE_DIR:-$HOME/.local/share/codegraph}"
version="$(sed -n 's:.*<neo4j.version>\(.*\)</neo4j.version>.*:\1:p' "$here/../codegraph/runtime/pom.xml" | head -n 1)"
lib="$state/cypher-shell-$version/lib"
if [ ! -f "$lib/cypher-shell-$version.jar" ]; then
  mvn -q -B -f "$here/cypher-shell-pom.xml" -Dneo4j.version="$version" \
    dependency:copy-dependencies -DoutputDirectory="$lib" >&2
fi
exec java -cp "$lib/*" org.neo4j.shell.Main "$@"
