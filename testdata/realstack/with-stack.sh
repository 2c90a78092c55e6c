#!/usr/bin/env bash
# Runs a command while the real servers are up: setup.sh, stack.py start, the command, and
# stack.py stop however it ends. Exits with the command's code. The command sees
# DATAECO_REALSTACK_ENV (the env file stack.py wrote: REALSTACK_KAFKA_*, _CASSANDRA_*,
# _SPARK_*, _AIRFLOW_*; see README.md) and REALSTACK_PYTHON (the venv's Python,
# with pytest, pyspark, Airflow and the clients). Lets other suites share one start:
#   testdata/realstack/with-stack.sh sh -c 'go test ./... && testdata/realstack/ci.sh --no-stack'
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

export DATAECO_REALSTACK_ENV=$here/run/env REALSTACK_PYTHON=$py
set +e
"$@"
rc=$?
set -e
exit "$rc"
