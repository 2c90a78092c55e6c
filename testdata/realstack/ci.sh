#!/usr/bin/env bash
# The pipeline's tests on the real software, start to finish: with-stack.sh installs (or
# finds in its cache) Kafka, Cassandra, Spark and Airflow and starts the servers; pytest runs
# tests/; the servers are stopped however this ends. Exits with pytest's code. Extra
# arguments go to pytest (ci.sh -k stream).
#
# With --no-stack first, only pytest runs, against servers someone already started (inside
# with-stack.sh, or after stack.py start).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

if [[ ${1:-} == --no-stack ]]; then
  shift
  py=${REALSTACK_PYTHON:-${REALSTACK_CACHE:-$HOME/.cache/dataeco-realstack}/venv/bin/python}
  # -rfEs lists failures, errors and skips by name: under CI=true conftest turns a missing
  # server into a failure, so a skip can only come from outside CI.
  cd "$here"
  exec "$py" -m pytest -p no:cacheprovider -rfEs "$@" tests
fi

exec "$here/with-stack.sh" "$here/ci.sh" --no-stack "$@"
