#!/usr/bin/env bash
# Side-by-side performance figures for docs/performance.md, on this machine's Docker engine with
# the stand-in stack (testdata/standin), or with BENCH_REAL=1 on the real software's images
# (testdata/realimages). It prints figures; it asserts nothing.
#
#   testdata/bench/bench.sh            # 3 rounds
#   BENCH_ROUNDS=5 testdata/bench/bench.sh
#   BENCH_REAL=1 testdata/bench/bench.sh   # the real images; each round takes minutes
#
# Measured, in one run:
#  - time to a healthy stack: `dataeco install --yes` against `docker compose up -d --wait` on
#    the same rendered file, with the compose CLI built from the same Compose module (v5.6.0);
#    alternating which goes first, volumes removed between rounds, images already present;
#  - a no-op re-run of `dataeco install` on a healthy stack (smoke checks excluded);
#  - `dataeco status`, `dataeco --help` start-up, and the stripped binary size;
#  - each service's own time to ready in the last dataeco round (the floor);
#  - with BENCH_REAL=1 also: each container's peak and idle memory against its limit and the
#    idle CPU of the whole stack (docker stats, through testdata/realimages/stats.sh), and the
#    pipeline's latency in containers (BenchmarkRealPipelineLatency against the installed stack,
#    10 marked users, the connection details from `dataeco env`).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS="${BENCH_ROUNDS:-3}"
work="$(mktemp -d /tmp/dataeco-bench.XXXXXX)"
reg_pid=""
cleanup() {
  local rc=$?
  set +e
  if [ "$rc" -ne 0 ]; then
    echo "bench failed (exit $rc); last lines of its logs:" >&2
    tail -n 30 "$work"/*.log >&2 2>/dev/null
  fi
  [ -x "$work/dataeco" ] && "$work/dataeco" uninstall --purge --yes --dir "$work/install" >/dev/null 2>&1
  [ -x "$work/compose" ] && (cd "$work/plain" 2>/dev/null && "$work/compose" -p dataeco-bench-compose down -v >/dev/null 2>&1)
  [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null
  [ -n "${stats_pid:-}" ] && kill "$stats_pid" 2>/dev/null
  # The stand-in images under this run's registry, so the bench leaves the engine as it was.
  [ -n "${registry:-}" ] && docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$registry/" | xargs -r docker image rm -f >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'; }
# stats NAME values... → "NAME: median Xs (min Y, max Z, n=N)"
stats() {
  local name="$1"; shift
  printf '%s\n' "$@" | sort -n | awk -v name="$name" '
    { v[NR] = $1 }
    END {
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%-44s median %7.3fs  (min %.3f, max %.3f, n=%d)\n", name, m, v[1], v[NR], NR
    }'
}
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "== building dataeco and the compose CLI (github.com/docker/compose/v5 v5.6.0)"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/dataeco" .
cp -r "$(go env GOMODCACHE)/github.com/docker/compose/v5@v5.6.0" "$work/composesrc" 2>/dev/null || {
  go mod download github.com/docker/compose/v5@v5.6.0
  cp -r "$(go env GOMODCACHE)/github.com/docker/compose/v5@v5.6.0" "$work/composesrc"
}
chmod -R u+w "$work/composesrc"
(cd "$work/composesrc" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/compose" ./cmd)

echo "== local registry with the stand-in images"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
storage="$work/registry"
# The real images' registry keeps its storage in their cache, so a warm run pushes nothing.
[ "${BENCH_REAL:-}" = 1 ] && storage="${REALIMAGES_CACHE:-$HOME/.cache/dataeco-realimages}/registry"
mkdir -p "$storage"
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$storage" "$port" > "$work/registry.yml"
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.2; done
registry="127.0.0.1:$port"
if [ "${BENCH_REAL:-}" = 1 ]; then
  echo "== the real images (testdata/realimages, cached by digest)"
  DATAECO="$work/dataeco" bash testdata/realimages/build.sh "$registry" >"$work/build.log" 2>&1
else
  # The pinned images, from the binary's own list (a built image counts as its base).
  mapfile -t images < <("$work/dataeco" images --json --components all --dir "$work/no-install" |
    python3 -c 'import json, sys; print("\n".join(sorted({r.get("built_from") or r["image"] for r in json.load(sys.stdin)})))')
  KEEP_LOCAL=1 bash testdata/standin/build.sh "$registry" "${images[@]}" >"$work/build.log" 2>&1
fi

ports=()
i=0
for flag in zookeeper-port kafka-port kafka-jmx-port schema-registry-port control-center-port airflow-port spark-ui-port spark-master-port cassandra-port; do
  # Below 32768, outside the kernel's range for outgoing connections, and apart from the
  # e2e tests' ranges (installer/e2e).
  ports+=("--$flag" "$((12500 + i))"); i=$((i + 1))
done
args=(install --yes --no-smoke --dir "$work/install" --project dataeco-bench --registry "$registry" --timeout 10m "${ports[@]}")

echo "== warm-up (pulls every image once)"
"$work/dataeco" "${args[@]}" >/dev/null 2>"$work/warmup.log"
# compose gets a copy of the whole install dir: the compose file, .env and the mounted files.
mkdir -p "$work/plain"
cp -r "$work/install/." "$work/plain/"
rm -f "$work/plain/.lock" "$work/plain/answers.yaml"
sed -i 's/^COMPOSE_PROJECT_NAME=.*/COMPOSE_PROJECT_NAME=dataeco-bench-compose/' "$work/plain/.env"
"$work/dataeco" uninstall --purge --yes --dir "$work/install" >/dev/null 2>&1

d_times=(); c_times=()
run_dataeco() {
  local t0; t0=$(now)
  "$work/dataeco" "${args[@]}" >/dev/null 2>"$work/dataeco-last.log"
  d_times+=("$(elapsed "$t0")")
  cat "$work/dataeco-last.log" >>"$work/dataeco.log"
  "$work/dataeco" uninstall --purge --yes --dir "$work/install" >/dev/null 2>&1
}
# compose's --wait gives up with "container …-cassandra-init-1 exited (0)": a one-shot job
# that nothing depends on never becomes "running". So compose gets its best case: when --wait
# fails that way, the clock runs on until every long-running container is healthy, polled
# every 0.5 s (dataeco's own watcher polls every second).
all_healthy() {
  local unhealthy
  unhealthy=$(docker ps -a --filter label=com.docker.compose.project=dataeco-bench-compose \
    --format '{{.Names}} {{.Status}}' | grep -v -- '-init-1 Exited (0)' | grep -vc '(healthy)' || true)
  [ "$unhealthy" -eq 0 ]
}
run_compose() {
  local t0; t0=$(now)
  if ! (cd "$work/plain" && "$work/compose" -p dataeco-bench-compose up -d --wait >/dev/null 2>>"$work/compose.log"); then
    tail -n 1 "$work/compose.log" | grep -q 'exited (0)' || { echo "compose up failed" >&2; exit 1; }
  fi
  until all_healthy; do sleep 0.5; done
  c_times+=("$(elapsed "$t0")")
  (cd "$work/plain" && "$work/compose" -p dataeco-bench-compose down -v >/dev/null 2>&1)
}
# Memory of dataeco's install through every round and the figures after (the compose rounds
# run under another project name and are not sampled).
if [ "${BENCH_REAL:-}" = 1 ]; then
  bash testdata/realimages/stats.sh dataeco-bench "$work/memory.txt" 2 &
  stats_pid=$!
fi
echo "== time to a healthy stack, $ROUNDS rounds each, alternating order"
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then run_dataeco; run_compose; else run_compose; run_dataeco; fi
  echo "   round $r: dataeco ${d_times[-1]}s, compose ${c_times[-1]}s"
done

echo "== no-op re-run, status, --help"
"$work/dataeco" "${args[@]}" >/dev/null 2>&1
noop=(); status=(); help=()
for _ in $(seq 5); do
  t0=$(now); "$work/dataeco" "${args[@]}" >/dev/null 2>&1; noop+=("$(elapsed "$t0")")
done
for _ in $(seq 10); do
  t0=$(now); "$work/dataeco" status --dir "$work/install" >/dev/null; status+=("$(elapsed "$t0")")
done
for _ in $(seq 20); do
  t0=$(now); "$work/dataeco" --help >/dev/null; help+=("$(elapsed "$t0")")
done
size=$(stat -c %s "$work/dataeco")

if [ "${BENCH_REAL:-}" = 1 ]; then
  echo "== the pipeline's latency in containers (10 marked users)"
  # The installed stack's connection details in the format of testdata/realstack's env file,
  # so the benchmark that measures the real servers as processes measures the containers.
  "$work/dataeco" env --json --show-secrets --dir "$work/install" | python3 -c '
import json, sys
e = json.load(sys.stdin)
# The smoke checks connect to Cassandra by address (their session maps each node
# to the address given), so the advertised name "localhost" becomes 127.0.0.1.
local = lambda v: v.replace("localhost", "127.0.0.1")
out = {"KAFKA_BOOTSTRAP": local(e["KAFKA_BOOTSTRAP_SERVERS"]), "CASSANDRA_HOST": local(e["CASSANDRA_HOST"]),
       "CASSANDRA_PORT": e["CASSANDRA_PORT"], "CASSANDRA_USER": e["CASSANDRA_USER"],
       "CASSANDRA_PASSWORD": e["CASSANDRA_PASSWORD"], "SPARK_UI": e["SPARK_UI_URL"],
       "AIRFLOW_URL": e["AIRFLOW_URL"], "AIRFLOW_USER": e["AIRFLOW_USER"],
       "AIRFLOW_PASSWORD": e["AIRFLOW_PASSWORD"],
       "SPARK_APP": "dataeco-stream-users"}  # the job as the master names it (pipeline.App)
for k, v in out.items():
    print(f"export REALSTACK_{k}={v!r}")' >"$work/containers.env"
  latency=$(DATAECO_REALSTACK_ENV="$work/containers.env" go test -count=1 -run '^$' \
    -bench RealPipelineLatency -benchtime 10x ./checks | grep -E '^BenchmarkRealPipelineLatency')
  echo "== idle: 60 s with nothing produced"
  sleep 60
  # The healthchecks that start a JVM or an Airflow process make one sample swing from a
  # fifth of a core to nearly two: five samples, 3 s apart, and their mean.
  idle_samples=()
  for _ in 1 2 3 4 5; do
    # shellcheck disable=SC2046 # one argument per container id
    idle_samples+=("$(docker stats --no-stream --format '{{.CPUPerc}}' \
      $(docker ps -q --filter label=com.docker.compose.project=dataeco-bench) |
      awk '{ sub(/%/, ""); s += $1 } END { printf "%.0f", s }')")
    sleep 3
  done
  idle_cpu=$(printf '%s\n' "${idle_samples[@]}" | awk '{ s += $1 } END { printf "%.0f", s / NR }')
  kill "$stats_pid" 2>/dev/null; stats_pid=""
fi

echo
echo "== results ($(date -u +%Y-%m-%d), $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB, Docker $(docker version --format '{{.Server.Version}}'))"
stats "dataeco install --yes (to healthy)" "${d_times[@]}"
stats "docker compose up -d --wait (v5.6.0)" "${c_times[@]}"
dm=$(median "${d_times[@]}"); cm=$(median "${c_times[@]}")
printf '%-44s %.3f  (target <= 0.75)\n' "ratio dataeco / compose (medians)" "$(awk -v a="$dm" -v b="$cm" 'BEGIN { print a / b }')"
stats "no-op re-run of install (target <= 1s)" "${noop[@]}"
stats "status (target <= 0.5s)" "${status[@]}"
stats "--help start-up (target <= 0.05s)" "${help[@]}"
printf '%-44s %.1f MB  (target <= 45 MB)\n' "binary size, stripped" "$(awk -v s="$size" 'BEGIN { print s / 1000000 }')"
# Each service's own time to ready in the last dataeco round, counted from its container's
# start (which waits for its dependencies): the floor no readiness detection can go below.
echo "each service, last dataeco round (from its own start):"
grep -E '^ok [a-z0-9-]+ +(healthy|completed) +after ' "$work/dataeco-last.log" | awk '{ printf "  %-24s %s %s\n", $2, $3, $5 }'
if [ "${BENCH_REAL:-}" = 1 ]; then
  awk '{ for (i = 1; i < NF; i++) if ($(i+1) ~ /-ms$/) printf "pipeline latency in containers, %-14s %.2fs\n", $(i+1), $i / 1000 }' <<<"$latency"
  echo "idle CPU of the whole stack: ${idle_cpu}% of one core (mean of samples ${idle_samples[*]})"
  echo "memory (peak over the dataeco rounds, then idle, MiB):"
  cat "$work/memory.txt"
fi
