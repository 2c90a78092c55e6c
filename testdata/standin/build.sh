#!/usr/bin/env bash
# build.sh REGISTRY IMAGE_REF...
#
# Builds a FROM-scratch stand-in image (static busybox + the standin Go
# binary) for each image reference and pushes it to REGISTRY under the same
# repository path and tag, e.g.
#
#   build.sh 127.0.0.1:5000 confluentinc/cp-server:7.9.5 cassandra:5.0.6
#
# pushes 127.0.0.1:5000/confluentinc/cp-server:7.9.5 and
# 127.0.0.1:5000/library/cassandra:5.0.6. The role of each image comes from
# its repository name; see README.md. Environment: DOCKER (docker binary,
# default "docker"), BUSYBOX (static busybox, default /bin/busybox), GO
# (go binary, default "go"), PADDING_KB (size of the random padding layer,
# default 300), KEEP_LOCAL=1 (keep the local copy of each pushed image;
# by default it is removed so that the next pull really downloads it).
set -euo pipefail

DOCKER=${DOCKER:-docker}
BUSYBOX=${BUSYBOX:-/bin/busybox}
GO=${GO:-go}
PADDING_KB=${PADDING_KB:-300}
KEEP_LOCAL=${KEEP_LOCAL:-0}

die() {
	echo "build.sh: error: $*" >&2
	exit 1
}

usage() {
	sed -n '2,18s/^# \{0,1\}//p' "$0" >&2
}

if [ $# -lt 2 ]; then
	usage
	exit 2
fi
registry=$1
shift
case $registry in
*/* | '') die "REGISTRY must be a host:port such as 127.0.0.1:5000, not '$registry'" ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
command -v "$DOCKER" >/dev/null 2>&1 || die "docker binary '$DOCKER' not found (set DOCKER)"
command -v "$GO" >/dev/null 2>&1 || die "go binary '$GO' not found (set GO)"
[ -x "$BUSYBOX" ] || die "no executable busybox at $BUSYBOX (install Debian's busybox-static or set BUSYBOX)"
if command -v file >/dev/null 2>&1; then
	file -L "$BUSYBOX" | grep -q 'statically linked' || die "$BUSYBOX is not statically linked; scratch images need a static busybox"
fi

# role_of REPOSITORY prints the stand-in role of a normalised repository.
role_of() {
	case $1 in
	confluentinc/cp-zookeeper) echo zookeeper ;;
	confluentinc/cp-server | confluentinc/cp-kafka) echo broker ;;
	confluentinc/cp-schema-registry) echo schema-registry ;;
	confluentinc/cp-enterprise-control-center) echo control-center ;;
	library/postgres) echo postgres ;;
	apache/airflow) echo airflow ;;
	apache/spark | library/spark) echo spark ;;
	library/cassandra) echo cassandra ;;
	*) return 1 ;;
	esac
}

# Check every reference before building anything.
declare -a repos tags roles
for ref in "$@"; do
	case $ref in
	*@*) die "'$ref': digests are not supported, use REPOSITORY:TAG" ;;
	esac
	name=${ref#docker.io/}
	tag=latest
	last=${name##*/}
	if [ "${last#*:}" != "$last" ]; then
		tag=${last#*:}
		name=${name%:"$tag"}
	fi
	first=${name%%/*}
	if [ "$first" != "$name" ] && { [ "${first#*.}" != "$first" ] || [ "${first#*:}" != "$first" ]; }; then
		die "'$ref' names a registry host; give Docker Hub style references (repo:tag)"
	fi
	case $name in
	*/*) ;;
	*) name=library/$name ;;
	esac
	role=$(role_of "$name") || die "'$ref': no stand-in role for repository $name"
	repos+=("$name")
	tags+=("$tag")
	roles+=("$role")
done

work=$(mktemp -d "${TMPDIR:-/tmp}/standin-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "==> building the standin binary"
(cd "$here" && CGO_ENABLED=0 "$GO" build -trimpath -ldflags='-s -w' -o "$work/standin" .) ||
	die "go build failed"

# empty_jar FILE writes an empty but valid jar (a zip with no entries).
empty_jar() {
	{
		printf 'PK\005\006'
		head -c 18 /dev/zero
	} >"$1"
}

# make_rootfs DIR ROLE TAG lays out the image's file system.
make_rootfs() {
	local root=$1 role=$2 tag=$3 a t d py scala
	py=$(expr "$tag" : '.*python\([0-9][0-9]*\.[0-9][0-9]*\)' || true)
	scala=$(expr "$tag" : '.*scala\([0-9][0-9]*\.[0-9][0-9]*\)' || true)
	mkdir -p "$root/bin" "$root/usr/bin" "$root/usr/local/bin" "$root/etc" "$root/tmp" "$root/root"
	cp "$BUSYBOX" "$root/bin/busybox"
	chmod 0755 "$root/bin/busybox"
	for a in sh ash grep egrep sed cat echo nc wget sleep ls rm mkdir touch test [ [[ head tail env \
		hostname id ps kill cp mv chmod ln awk tr cut wc sort uniq date true false printf uname \
		df du find xargs tee which nslookup whoami basename dirname expr seq timeout vi less \
		readlink stat netstat pidof top free uptime tar gzip; do
		ln -s busybox "$root/bin/$a"
	done
	ln -s /bin/busybox "$root/usr/bin/env"
	cp "$work/standin" "$root/usr/local/bin/standin"
	chmod 0755 "$root/usr/local/bin/standin"
	for t in curl cub cqlsh psql pg_isready airflow docker-entrypoint.sh nodetool pip pip3; do
		ln -s standin "$root/usr/local/bin/$t"
	done
	mkdir -p "$root/etc/confluent/docker" "$root/opt/spark/bin"
	ln -s /usr/local/bin/standin "$root/etc/confluent/docker/run"
	ln -s /usr/local/bin/standin "$root/opt/spark/bin/spark-class"
	ln -s /usr/local/bin/standin "$root/opt/spark/bin/spark-submit"
	ln -s /usr/local/bin/standin "$root/usr/bin/kafka-topics"
	ln -s /usr/local/bin/standin "$root/entrypoint"
	ln -s /usr/local/bin/standin "$root/opt/entrypoint.sh"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
	chmod 1777 "$root/tmp"

	case $role in
	zookeeper) d="var/lib/zookeeper/data var/lib/zookeeper/log etc/kafka" ;;
	broker) d="var/lib/kafka/data etc/kafka" ;;
	schema-registry) d="var/lib/schema-registry etc/schema-registry" ;;
	control-center) d="var/lib/confluent-control-center etc/confluent-control-center" ;;
	postgres) d="var/lib/postgresql/data var/run/postgresql docker-entrypoint-initdb.d" ;;
	airflow) d="opt/airflow/logs opt/airflow/dags opt/airflow/plugins opt/airflow/config home/airflow/.local/lib/python${py:-3.12}/site-packages" ;;
	spark) d="opt/spark/work opt/spark/work-dir opt/spark/jars" ;;
	cassandra) d="var/lib/cassandra etc/cassandra" ;;
	esac
	for t in $d; do
		mkdir -p "$root/$t"
	done
	case $role in
	airflow)
		# As in the real image: user airflow (uid 50000) in group root (0),
		# and its directories writable by that group. pip records packages
		# in the user's site directory (PIP_USER).
		printf 'airflow:x:50000:0:airflow:/home/airflow:/bin/sh\n' >>"$root/etc/passwd"
		chmod -R 0775 "$root/opt/airflow" "$root/home/airflow"
		# The image's Python, as far as dataeco's job_alive.py healthcheck needs it.
		ln -s standin "$root/usr/local/bin/python"
		;;
	spark)
		# The real image runs as its user spark (uid 185), which owns
		# /opt/spark; here the directories it writes are world-writable
		# instead. /opt/spark/jars holds Spark's own jars (a few empty ones
		# here); dataeco's build copies the connectors there.
		printf 'spark:x:185:185:spark:/nonexistent:/bin/false\n' >>"$root/etc/passwd"
		printf 'spark:x:185:\n' >>"$root/etc/group"
		chmod 0777 "$root/opt/spark/work" "$root/opt/spark/work-dir" "$root/opt/spark/jars"
		for t in "spark-core_${scala:-2.12}-${tag%%-*}" "spark-sql_${scala:-2.12}-${tag%%-*}" ivy-2.5.1; do
			empty_jar "$root/opt/spark/jars/$t.jar"
		done
		;;
	esac
	if [ "$role" = cassandra ]; then
		cat >"$root/etc/cassandra/cassandra.yaml" <<'EOF'
# Stand-in cassandra.yaml: only the authenticator and authorizer lines
# matter (authentication is on iff PasswordAuthenticator appears).
cluster_name: 'Test Cluster'
num_tokens: 16
authenticator:
  class_name : org.apache.cassandra.auth.AllowAllAuthenticator
authorizer: AllowAllAuthorizer
role_manager: CassandraRoleManager
native_transport_port: 9042
data_file_directories:
  - /var/lib/cassandra/data
EOF
	fi
}

# dockerfile_tail ROLE TAG prints the role-specific part of the Dockerfile.
dockerfile_tail() {
	local version=${2%%-*}
	case $version in
	[0-9]*) ;;
	*) version=3.1.3 ;; # as the stand-in assumes for a tag without a version
	esac
	case $1 in
	zookeeper)
		echo 'EXPOSE 2181 2888 3888'
		echo 'VOLUME ["/var/lib/zookeeper/data", "/var/lib/zookeeper/log"]'
		echo 'CMD ["/etc/confluent/docker/run"]'
		;;
	broker)
		echo 'EXPOSE 9092'
		echo 'VOLUME ["/var/lib/kafka/data"]'
		echo 'CMD ["/etc/confluent/docker/run"]'
		;;
	schema-registry)
		echo 'EXPOSE 8081'
		echo 'CMD ["/etc/confluent/docker/run"]'
		;;
	control-center)
		echo 'EXPOSE 9021'
		echo 'CMD ["/etc/confluent/docker/run"]'
		;;
	postgres)
		echo 'ENV PGDATA=/var/lib/postgresql/data'
		echo 'EXPOSE 5432'
		echo 'VOLUME ["/var/lib/postgresql/data"]'
		echo 'STOPSIGNAL SIGINT'
		echo 'ENTRYPOINT ["docker-entrypoint.sh"]'
		echo 'CMD ["postgres"]'
		;;
	airflow)
		echo "ENV AIRFLOW_HOME=/opt/airflow AIRFLOW_USER_HOME_DIR=/home/airflow AIRFLOW_VERSION=$version"
		echo 'WORKDIR /opt/airflow'
		echo 'EXPOSE 8080'
		# The real image runs as the airflow user; its pip refuses root.
		echo 'USER 50000'
		echo 'ENTRYPOINT ["/entrypoint"]'
		;;
	spark)
		# The real image runs as a user whose home does not exist, so
		# --packages without spark.jars.ivy fails there; the stand-in
		# spark-submit reproduces that from HOME.
		echo 'ENV SPARK_HOME=/opt/spark HOME=/nonexistent'
		echo 'WORKDIR /opt/spark/work-dir'
		echo 'USER 185'
		echo 'ENTRYPOINT ["/opt/entrypoint.sh"]'
		;;
	cassandra)
		echo 'ENV CASSANDRA_CONF=/etc/cassandra'
		echo 'EXPOSE 7000 7001 7199 9042 9160'
		echo 'VOLUME ["/var/lib/cassandra"]'
		echo 'ENTRYPOINT ["docker-entrypoint.sh"]'
		echo 'CMD ["cassandra", "-f"]'
		;;
	esac
}

i=0
for ref in "$@"; do
	repo=${repos[$i]} tag=${tags[$i]} role=${roles[$i]}
	i=$((i + 1))
	target="$registry/$repo:$tag"
	ctx="$work/ctx-$i"
	echo "==> $ref: role $role -> $target"
	mkdir -p "$ctx"
	make_rootfs "$ctx/rootfs" "$role" "$tag"
	head -c $((PADDING_KB * 1024)) /dev/urandom >"$ctx/padding"
	{
		echo 'FROM scratch'
		echo 'COPY rootfs/ /'
		echo 'COPY padding /standin/padding'
		echo 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/opt/spark/bin'
		echo "ENV STANDIN_ROLE=$role STANDIN_IMAGE=$repo:$tag STANDIN_VERSION=$tag"
		echo "LABEL io.dataeco.standin.role=\"$role\" org.opencontainers.image.title=\"dataeco stand-in for $repo:$tag\""
		dockerfile_tail "$role" "$tag"
	} >"$ctx/Dockerfile"
	if ! DOCKER_BUILDKIT=0 "$DOCKER" build --force-rm -t "$target" "$ctx" >"$work/build-$i.log" 2>&1; then
		cat "$work/build-$i.log" >&2
		die "docker build of $target failed"
	fi
	if ! "$DOCKER" push "$target" >"$work/push-$i.log" 2>&1; then
		cat "$work/push-$i.log" >&2
		"$DOCKER" rmi "$target" >/dev/null 2>&1 || true
		die "docker push of $target failed (is the registry at $registry running?)"
	fi
	rm -rf "$ctx"
	if [ "$KEEP_LOCAL" = 1 ]; then
		echo "    pushed $target (local copy kept)"
	else
		# Drop the local copy so that the next `docker pull` or compose
		# up really fetches the image from the registry.
		"$DOCKER" rmi "$target" >/dev/null || die "docker rmi $target failed"
		echo "    pushed $target"
	fi
done
echo "==> done: $i image(s)"
