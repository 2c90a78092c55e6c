#!/usr/bin/env bash
# Installs what the real-stack tests run: Kafka 3.9 and Cassandra 5.0 jars (Maven Central,
# through ~/.m2), a Python venv with Spark, Airflow and the clients (PyPI, through pip's
# cache), and the two Spark connectors (Maven Central, through an Ivy cache). Every step is
# skipped when what it made is there and its inputs did not change, so a warm run takes
# seconds. Everything lands in $REALSTACK_CACHE (default ~/.cache/dataeco-realstack), outside
# the work tree, so a fresh clone (as CI makes) reuses it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${REALSTACK_CACHE:-$HOME/.cache/dataeco-realstack}
mkdir -p "$cache"

say() { echo "realstack setup: $*" >&2; }

# A stamp holds the hash of a step's inputs; the step runs again when they change.
fresh() { [[ -f "$cache/$1.stamp" && "$(cat "$cache/$1.stamp")" == "$2" ]]; }
stamp() { echo "$2" >"$cache/$1.stamp"; }
hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

need_apt=()
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need_apt+=(maven)
python3 -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv)
# Airflow's metadata database, as in the stack (initdb and postgres, run by stack.py).
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need_apt+=(postgresql)
if ((${#need_apt[@]})); then
  if [[ $(id -u) != 0 ]]; then
    say "missing ${need_apt[*]}; install them (apt-get install ${need_apt[*]})"
    exit 1
  fi
  say "installing ${need_apt[*]} from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
java_major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
if ((java_major < 17)); then
  say "Java $java_major found; Cassandra 5.0 and Spark here need Java 17"
  exit 1
fi

# Python: one venv per requirements file, rebuilt from pip's cache when the pins change.
py_hash=$(hash_of "$here/requirements.txt" <(python3 --version))
if ! fresh venv "$py_hash" || [[ ! -x "$cache/venv/bin/python" ]]; then
  say "creating the Python venv (pyspark, apache-airflow with FAB and PostgreSQL, confluent-kafka, cassandra-driver, pytest)"
  rm -rf "$cache/venv"
  python3 -m venv "$cache/venv"
  "$cache/venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
  stamp venv "$py_hash"
fi

# Kafka and Cassandra: the runtime classpath of each pom, copied out of ~/.m2.
for server in kafka cassandra; do
  pom="$here/maven/$server-pom.xml"
  h=$(hash_of "$pom")
  if ! fresh "$server-lib" "$h"; then
    say "resolving the $server jars"
    rm -rf "$cache/$server-lib"
    mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$cache/$server-lib"
    stamp "$server-lib" "$h"
  fi
done

# The Spark connectors, resolved the way the tests' spark-submit resolves them, so the first
# test does not pay for the download and a resolution failure shows up here.
packages=$(paste -sd, <(grep -v '^#' "$here/spark-packages.txt" | grep .))
h=$(hash_of "$here/spark-packages.txt" "$here/ivysettings.xml")
if ! fresh ivy "$h"; then
  say "resolving the Spark connectors $packages"
  probe=$(mktemp -d)
  echo 'print("connectors resolved")' >"$probe/probe.py"
  # spark-submit finds its Spark home through this Python, not whatever python3 is on PATH.
  PYSPARK_PYTHON="$cache/venv/bin/python" "$cache/venv/bin/spark-submit" --master 'local[1]' --packages "$packages" \
    --conf "spark.jars.ivy=$cache/ivy" --conf "spark.jars.ivySettings=$here/ivysettings.xml" \
    "$probe/probe.py" >"$probe/log" 2>&1 || { cat "$probe/log" >&2; rm -rf "$probe"; exit 1; }
  rm -rf "$probe"
  stamp ivy "$h"
fi

say "ready in $cache"
