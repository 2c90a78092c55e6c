#!/usr/bin/env bash
# run.sh [--uninstall]
#
# One command to run dataeco on images of the real software (see README.md):
#   1. builds dataeco from a clean copy of the committed HEAD (`git archive HEAD`; the work
#      tree is never built), cached per commit in the cache directory;
#   2. starts a throwaway docker-registry on 127.0.0.1:REGISTRY_PORT (stopped on exit);
#   3. build.sh: builds or reuses the real images and the two stand-ins, and pushes them;
#   4. dataeco install --registry 127.0.0.1:REGISTRY_PORT --yes --no-smoke into DIR as
#      project PROJECT, on ports below 32768 (ZooKeeper 12181, Kafka 19092, JMX 19101,
#      Schema Registry 18081, Control Center 19021, Airflow 18080, Spark UI 19090, Spark
#      master 17077, Cassandra 19042), sampling `docker stats` meanwhile (stats.sh);
#   5. dataeco smoke.
# The stack is left running for you to look at; the last lines say how to remove it
# (`dataeco uninstall --purge --yes --dir DIR`). --uninstall removes it at the end instead,
# whatever the result.
#
# Environment: REGISTRY_PORT (default 15500), PROJECT (default dataeco-real), DIR (default
# REALIMAGES_CACHE/install-PROJECT), INSTALL_ARGS (more install flags, e.g. --keep-on-failure),
# REALIMAGES_CACHE (default ~/.cache/dataeco-realimages),
# REGISTRY_DATA (the registry's storage, default REALIMAGES_CACHE/registry: kept between runs
# so that pushing unchanged images is quick; delete it to reclaim the space), GO (default go).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${REALIMAGES_CACHE:-$HOME/.cache/dataeco-realimages}
REGISTRY_PORT=${REGISTRY_PORT:-15500}
PROJECT=${PROJECT:-dataeco-real}
DIR=${DIR:-$cache/install-$PROJECT}
REGISTRY_DATA=${REGISTRY_DATA:-$cache/registry}
GO=${GO:-go}
uninstall=0
case ${1:-} in
--uninstall) uninstall=1 ;;
'') ;;
*)
	sed -n '2,25s/^# \{0,1\}//p' "$0" >&2
	exit 2
	;;
esac

say() { echo "run.sh: $*" >&2; }
die() {
	echo "run.sh: error: $*" >&2
	exit 1
}
stamp() { date +%H:%M:%S; }
mkdir -p "$cache/logs"
registry=127.0.0.1:$REGISTRY_PORT

# 1. dataeco from the committed HEAD (and the stand-ins' sources from the same copy).
rev=$(git -C "$repo" rev-parse HEAD)
src=$cache/head-$rev
bin=$src/dataeco
if [[ ! -x $bin ]]; then
	say "building dataeco $rev from a clean copy of HEAD in $src"
	rm -rf "$src"
	mkdir -p "$src"
	git -C "$repo" archive "$rev" | tar -x -C "$src"
	(cd "$src" && CGO_ENABLED=0 "$GO" build -trimpath -o "$bin.tmp" .) || die "go build failed"
	mv "$bin.tmp" "$bin"
	# Copies of other commits are not needed any more.
	for old in "$cache"/head-*; do
		[[ $old == "$src" ]] || rm -rf "$old"
	done
fi
say "dataeco: $bin ($("$bin" version 2>/dev/null | head -1))"

# 2. The registry.
if curl -fsS -o /dev/null --noproxy '*' "http://$registry/v2/" 2>/dev/null; then
	die "something already answers on $registry; stop it or set REGISTRY_PORT"
fi
command -v docker-registry >/dev/null || die "docker-registry is missing (apt-get install docker-registry)"
mkdir -p "$REGISTRY_DATA"
cat >"$cache/registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $REGISTRY_DATA}
  delete: {enabled: true}
http: {addr: $registry}
EOF
docker-registry serve "$cache/registry.yml" >"$cache/logs/registry.log" 2>&1 &
registry_pid=$!
stats_pid=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	[[ -z $stats_pid ]] || kill "$stats_pid" 2>/dev/null || true
	kill "$registry_pid" 2>/dev/null || true
	wait "$registry_pid" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 50); do
	curl -fsS -o /dev/null --noproxy '*' "http://$registry/v2/" 2>/dev/null && break
	kill -0 "$registry_pid" 2>/dev/null || { cat "$cache/logs/registry.log" >&2; die "docker-registry did not start"; }
	sleep 0.2
done
say "registry on $registry (storage $REGISTRY_DATA)"

# 3. Images.
t=$SECONDS
DATAECO=$bin STANDIN_BUILD=$src/testdata/standin/build.sh "$here/build.sh" "$registry"
say "images ready in $((SECONDS - t)) s"

# 4. Install. Copies pulled by an earlier run are untagged first (the images stay under
# dataeco-realimages/), so that install really pulls through the registry; a tag still used
# by a container stays.
docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$registry/" |
	xargs -r docker rmi >/dev/null 2>&1 || true
ports=(--zookeeper-port 12181 --kafka-port 19092 --kafka-jmx-port 19101 --schema-registry-port 18081
	--control-center-port 19021 --airflow-port 18080 --spark-ui-port 19090 --spark-master-port 17077
	--cassandra-port 19042)
stats_file=$cache/logs/stats-$PROJECT.txt
rm -f "$stats_file"
"$here/stats.sh" "$PROJECT" "$stats_file" >/dev/null 2>&1 &
stats_pid=$!
rc=0
say "$(stamp) dataeco install into $DIR (project $PROJECT)"
t=$SECONDS
# shellcheck disable=SC2086 # INSTALL_ARGS holds several flags
"$bin" install --registry "$registry" --yes --no-smoke --dir "$DIR" --project "$PROJECT" "${ports[@]}" \
	${INSTALL_ARGS:-} || rc=$?
say "$(stamp) install exited $rc after $((SECONDS - t)) s"

# 5. Smoke.
if ((rc == 0)); then
	t=$SECONDS
	"$bin" smoke --dir "$DIR" || rc=$?
	say "$(stamp) smoke exited $rc after $((SECONDS - t)) s"
fi
kill "$stats_pid" 2>/dev/null || true
wait "$stats_pid" 2>/dev/null || true
stats_pid=
echo "--- memory while installing and smoke-testing (docker stats samples; limit from the engine)"
cat "$stats_file" 2>/dev/null || echo "(no samples)"

if ((uninstall)); then
	"$bin" uninstall --purge --yes --dir "$DIR" || rc=1
else
	if ((rc == 0)); then
		say "smoke passed; the stack is running (project $PROJECT, install dir $DIR)"
	else
		say "FAILED (exit $rc); project $PROJECT, install dir $DIR"
	fi
	cat >&2 <<EOF
Next:
  $bin status --dir $DIR
  $bin smoke --dir $DIR
  $bin uninstall --purge --yes --dir $DIR     # removes containers, volumes and $DIR
  docker images 'dataeco-realimages/*'          # the local images; docker rmi them to reclaim space
EOF
fi
exit "$rc"
