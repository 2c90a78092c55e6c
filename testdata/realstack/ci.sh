#!/usr/bin/env bash
# The pipeline's tests on the real software, start to finish: setup.sh installs (or finds in
# its cache) Kafka, Cassandra, Spark and Airflow; stack.py starts the servers; pytest runs
# tests/; the servers are stopped however this ends. Exits with pytest's code. Extra
# arguments go to pytest (ci.sh -k stream).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${REALSTACK_CACHE:-$HOME/.cache/dataeco-realstack}
py=$cache/venv/bin/python

SECONDS=0
"$here/setup.sh"
echo "realstack: setup took ${SECONDS}s" >&2

trap '"$py" "$here/stack.py" stop' EXIT
SECONDS=0
"$py" "$here/stack.py" start
echo "realstack: servers up in ${SECONDS}s" >&2

set +e
# -rfEs lists failures, errors and skips by name: under CI=true conftest turns a missing
# server into a failure, so a skip can only come from outside CI.
(cd "$here" && "$py" -m pytest -p no:cacheprovider -rfEs "$@" tests)
rc=$?
set -e
exit "$rc"
