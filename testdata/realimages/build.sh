#!/usr/bin/env bash
# build.sh REGISTRY [IMAGE_REF...]
# build.sh --local [IMAGE_REF...]
#
# Builds test images of the REAL software for the images dataeco's compose template uses,
# from Debian (debootstrap + apt), Maven Central and PyPI, and pushes each to REGISTRY (a
# host:port such as 127.0.0.1:15500) under the template's repository path and tag:
# cassandra:5.0.9 becomes REGISTRY/library/cassandra:5.0.9, as `dataeco install --registry`
# expects. Schema Registry and Control Center have no open server obtainable here: those two
# are stand-ins, built and pushed by ../standin/build.sh. --local builds without pushing.
#
# The image list comes from IMAGE_REF arguments, else from `$DATAECO images --json` when
# DATAECO names a dataeco binary, else from `go run . images --json` at the repository's
# root (which needs that work tree to build; run.sh passes a binary built from a clean copy
# of HEAD). Images dataeco builds itself at install (dataeco/airflow, dataeco/spark) count
# as their base image. A repository or tag without a recipe here is an error.
#
# Every image is tagged dataeco-realimages/RECIPE:DIGEST, DIGEST being the sha256 of its
# parent image and of every file of its build context (Dockerfile, scripts, jars, wheels), so
# a run with unchanged inputs builds nothing. Downloads and the Debian root file system are
# cached in REALIMAGES_CACHE (default ~/.cache/dataeco-realimages); `mvn` reuses ~/.m2 and
# `pip` its own cache. Needs root for debootstrap (first run only), docker, mvn, python3.11
# with pip, go (for the stand-ins).
#
# Environment: DOCKER (default docker), PYTHON (default python3; must be 3.11 like Debian
# bookworm's), MVN (default mvn), DEBIAN_MIRROR (default http://deb.debian.org/debian),
# STANDIN_BUILD (default ../standin/build.sh), KEEP_OLD=1 keeps superseded
# dataeco-realimages/* tags.
set -euo pipefail

DOCKER=${DOCKER:-docker}
PYTHON=${PYTHON:-python3}
MVN=${MVN:-mvn}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
here=$(cd "$(dirname "$0")" && pwd)
cache=${REALIMAGES_CACHE:-$HOME/.cache/dataeco-realimages}
STANDIN_BUILD=${STANDIN_BUILD:-$here/../standin/build.sh}
KEEP_OLD=${KEEP_OLD:-0}

say() { echo "realimages: $*" >&2; }
die() {
	echo "realimages: error: $*" >&2
	exit 1
}
usage() {
	sed -n '2,29s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

(($# >= 1)) || usage
registry=$1
shift
case $registry in
--local) registry= ;;
-h | --help) usage ;;
*/* | '' | -*) die "REGISTRY must be a host:port such as 127.0.0.1:15500, not '$registry'" ;;
esac

mkdir -p "$cache"/{logs,ctx,maven,wheels,rootfs}
t0=$SECONDS

# ---------------------------------------------------------------------------------------
# Which images: the template's list.

image_refs() {
	if (($#)); then
		printf '%s\n' "$@"
	else
		local json
		if [[ -n ${DATAECO:-} ]]; then
			json=$("$DATAECO" images --json --components all --dir "$cache/no-install") || die "$DATAECO images --json failed"
		else
			json=$(cd "$here/../.." && go run . images --json --components all --dir "$cache/no-install") ||
				die "go run . images --json failed in $(cd "$here/../.." && pwd); set DATAECO to a dataeco binary or give the image references"
		fi
		# Images dataeco builds itself (dataeco/airflow, dataeco/spark: "built_from" a pinned
		# image) are made at install from their base, which is what the registry needs.
		"$PYTHON" -c '
import json, sys
for row in json.load(sys.stdin):
    print(row.get("built_from") or row["image"])' <<<"$json" || die "cannot read the image list"
	fi | LC_ALL=C sort -u
}

# normalise REF prints REPOSITORY:TAG with Docker Hub's library/ prefix for official images.
normalise() {
	local ref=${1#docker.io/} name tag
	name=${ref%:*}
	tag=${ref##*:}
	[[ $name != "$ref" ]] || die "'$1' has no tag"
	[[ $name == */* ]] || name=library/$name
	printf '%s:%s\n' "$name" "$tag"
}

# recipe_of REPOSITORY:TAG prints the recipe that builds it. Each recipe builds one version of
# its software, so a tag it was not written for is refused rather than mislabelled.
recipe_of() {
	case $1 in
	confluentinc/cp-zookeeper:7.9.9) echo zookeeper ;;
	confluentinc/cp-server:7.9.9) echo kafka ;;
	library/cassandra:5.0.9) echo cassandra ;;
	# Debian bookworm's PostgreSQL is 15 whatever the 17.x tag says (see README.md).
	library/postgres:17.*-bookworm) echo postgres ;;
	apache/airflow:3.3.2-python3.12) echo airflow ;;
	apache/spark:3.5.8-scala2.12-java17-python3-ubuntu) echo spark ;;
	confluentinc/cp-schema-registry:* | confluentinc/cp-enterprise-control-center:*) echo standin ;;
	confluentinc/cp-zookeeper:* | confluentinc/cp-server:* | library/cassandra:* | library/postgres:* | \
		apache/airflow:* | apache/spark:*)
		die "$1: the recipe for ${1%:*} builds another version; update testdata/realimages (maven/, requirements/, images/, recipe_of in build.sh) for this tag"
		;;
	*) die "$1: no recipe for repository ${1%:*} in testdata/realimages" ;;
	esac
}

declare -a refs=() recipes=()
while IFS= read -r ref; do
	[[ -n $ref ]] || continue
	n=$(normalise "$ref")
	r=$(recipe_of "$n")
	refs+=("$n")
	recipes+=("$r")
done < <(image_refs "$@")
((${#refs[@]})) || die "no images to build"
say "images: ${refs[*]}"

# ---------------------------------------------------------------------------------------
# Inputs, each cached with a stamp holding the hash of what made it.

hash_files() { cat "$@" | sha256sum | cut -d' ' -f1; }
fresh() { [[ -f $cache/$1.stamp && $(cat "$cache/$1.stamp") == "$2" ]]; }
stamp() { echo "$2" >"$cache/$1.stamp"; }

# The Debian root file system, made once by debootstrap and kept as a tarball.
rootfs_tar() {
	local tar=$cache/rootfs/bookworm-minbase.tar key="bookworm minbase $DEBIAN_MIRROR"
	if ! fresh rootfs "$key" || [[ ! -s $tar ]]; then
		command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
		[[ $(id -u) == 0 ]] || die "debootstrap needs root"
		local dir t=$SECONDS
		dir=$(mktemp -d "$cache/rootfs/tmp.XXXXXX")
		say "debootstrap --variant=minbase bookworm ($DEBIAN_MIRROR)"
		debootstrap --variant=minbase bookworm "$dir" "$DEBIAN_MIRROR" >"$cache/logs/debootstrap.log" 2>&1 ||
			{ tail -20 "$cache/logs/debootstrap.log" >&2; rm -rf "$dir"; die "debootstrap failed"; }
		rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
		tar --numeric-owner -C "$dir" -cf "$tar.tmp" .
		rm -rf "$dir"
		mv "$tar.tmp" "$tar"
		stamp rootfs "$key"
		say "root file system ready in $((SECONDS - t)) s"
	fi
	echo "$tar"
}

# maven_lib NAME: the runtime classpath of maven/NAME-pom.xml, copied out of ~/.m2.
maven_lib() {
	local pom=$here/maven/$1-pom.xml out=$cache/maven/$1 h
	h=$(hash_files "$pom")
	if ! fresh "maven-$1" "$h" || [[ ! -d $out ]]; then
		command -v "$MVN" >/dev/null || die "mvn is missing (apt-get install maven)"
		local t=$SECONDS
		say "resolving the $1 jars from Maven Central"
		rm -rf "$out"
		"$MVN" -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
			-DoutputDirectory="$out" >"$cache/logs/maven-$1.log" 2>&1 ||
			{ tail -30 "$cache/logs/maven-$1.log" >&2; die "mvn failed for $pom"; }
		stamp "maven-$1" "$h"
		say "$1 jars ready in $((SECONDS - t)) s"
	fi
}

# wheels NAME: wheels for requirements/NAME.txt and everything they need, built on this
# machine for CPython 3.11 (Debian bookworm's python3) from pip's cache or PyPI.
wheels() {
	local req=$here/requirements/$1.txt out=$cache/wheels/$1 h ver
	ver=$("$PYTHON" -c 'import platform, sys; print("%d.%d %s" % (sys.version_info[:2] + (platform.machine(),)))')
	[[ $ver == 3.11\ * ]] || die "$PYTHON is Python $ver; the images run Debian bookworm's Python 3.11, so wheels must be built with a 3.11 (set PYTHON)"
	h=$(hash_files "$req" <(echo "$ver"))
	if ! fresh "wheels-$1" "$h" || [[ ! -d $out ]]; then
		say "building the $1 wheels (pip wheel -r requirements/$1.txt)"
		local t=$SECONDS
		rm -rf "$out"
		"$PYTHON" -m pip wheel -q --disable-pip-version-check -w "$out" -r "$req" \
			>"$cache/logs/wheels-$1.log" 2>&1 ||
			{ tail -30 "$cache/logs/wheels-$1.log" >&2; rm -rf "$out"; die "pip wheel failed for $req"; }
		stamp "wheels-$1" "$h"
		say "$1 wheels ready in $((SECONDS - t)) s"
	fi
}

# ---------------------------------------------------------------------------------------
# Images.

declare -A built=()   # recipe -> local image reference
declare -A outcome=() # recipe -> "built in N s" / "cached"

parent_of() {
	case $1 in
	base) echo debian ;;
	jre | postgres | airflow) echo base ;;
	zookeeper | kafka | cassandra | spark) echo jre ;;
	*) die "no recipe '$1'" ;;
	esac
}

# The imported root file system, tagged with the tarball's hash.
debian_image() {
	local tar h ref
	tar=$(rootfs_tar)
	h=$(sha256sum "$tar" | cut -c1-12)
	ref=dataeco-realimages/debian:bookworm-$h
	if ! "$DOCKER" image inspect "$ref" >/dev/null 2>&1; then
		say "importing the root file system as $ref"
		"$DOCKER" import -c 'CMD ["bash"]' "$tar" "$ref" >/dev/null
	fi
	built[debian]=$ref
}

# context RECIPE DIR lays out the build context: the recipe's files and its artifacts
# (hard links into the cache where possible).
context() {
	local name=$1 ctx=$2
	rm -rf "$ctx"
	mkdir -p "$ctx"
	cp -a "$here/images/$name/." "$ctx/"
	link() { cp -al "$1" "$2" 2>/dev/null || cp -a "$1" "$2"; }
	case $name in
	base) cp /etc/ssl/certs/ca-certificates.crt "$ctx/host-ca-bundle.crt" ;;
	zookeeper | kafka | cassandra)
		maven_lib "$name"
		link "$cache/maven/$name" "$ctx/lib"
		;;
	esac
	case $name in
	cassandra | airflow | spark)
		wheels "$name"
		link "$cache/wheels/$name" "$ctx/wheels"
		cp "$here/requirements/$name.txt" "$ctx/requirements.txt"
		;;
	esac
}

build() {
	local name=$1 parent ctx digest ref t log
	[[ -z ${built[$name]:-} ]] || return 0
	parent=$(parent_of "$name")
	if [[ $parent == debian ]]; then debian_image; else build "$parent"; fi
	ctx=$cache/ctx/$name
	context "$name" "$ctx"
	digest=$( (
		echo "parent ${built[$parent]}"
		cd "$ctx"
		find . \( -type f -o -type l \) -printf '%m %p %l\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
	) | sha256sum | cut -c1-16)
	ref=dataeco-realimages/$name:$digest
	if "$DOCKER" image inspect "$ref" >/dev/null 2>&1; then
		outcome[$name]=cached
	else
		log=$cache/logs/build-$name.log
		say "building $ref (log: $log)"
		t=$SECONDS
		if ! DOCKER_BUILDKIT=0 "$DOCKER" build --force-rm --build-arg "PARENT=${built[$parent]}" \
			--label "io.dataeco.realimages.recipe=$name" --label "io.dataeco.realimages.inputs=$digest" \
			-t "$ref" "$ctx" >"$log" 2>&1; then
			tail -40 "$log" >&2
			die "docker build of $name failed (full log: $log)"
		fi
		outcome[$name]="built in $((SECONDS - t)) s"
		# The legacy builder keeps the images of throwaway stages (the ones that unpack wheels)
		# as untagged leaves. Remove those this build made, newest first; anything tagged or
		# with children (the result and its ancestors) is refused by docker rmi and stays.
		final=$("$DOCKER" image inspect -f '{{.Id}}' "$ref")
		grep -oE '^ ---> [0-9a-f]{12,}$' "$log" | awk '{print $2}' | tac | while read -r id; do
			[[ $final != sha256:"$id"* ]] || continue
			"$DOCKER" rmi "$id" >/dev/null 2>&1 || true
		done
		if [[ $KEEP_OLD != 1 ]]; then
			# Untag what this recipe built before; other images are never touched.
			"$DOCKER" images --format '{{.Repository}}:{{.Tag}}' "dataeco-realimages/$name" |
				grep -vxF "$ref" | xargs -r "$DOCKER" rmi >/dev/null 2>&1 || true
		fi
	fi
	rm -rf "$ctx"
	say "$name: $ref (${outcome[$name]})"
	built[$name]=$ref
}

declare -a standins=()
for i in "${!refs[@]}"; do
	if [[ ${recipes[$i]} == standin ]]; then
		standins+=("${refs[$i]}")
	else
		build "${recipes[$i]}"
	fi
done

# ---------------------------------------------------------------------------------------
# Push.

if [[ -z $registry ]]; then
	say "built in $((SECONDS - t0)) s; --local: nothing pushed${standins:+ (stand-ins skipped: ${standins[*]})}"
	exit 0
fi

for i in "${!refs[@]}"; do
	[[ ${recipes[$i]} != standin ]] || continue
	target=$registry/${refs[$i]}
	t=$SECONDS
	"$DOCKER" tag "${built[${recipes[$i]}]}" "$target"
	if ! "$DOCKER" push "$target" >"$cache/logs/push.log" 2>&1; then
		tail -20 "$cache/logs/push.log" >&2
		"$DOCKER" rmi "$target" >/dev/null 2>&1 || true
		die "docker push $target failed (is the registry at $registry running?)"
	fi
	# Only the registry's name goes; the image stays under dataeco-realimages/, so a later
	# pull through the registry downloads the manifest and finds the layers present.
	"$DOCKER" rmi "$target" >/dev/null
	say "pushed $target ($((SECONDS - t)) s)"
done

if ((${#standins[@]})); then
	# The stand-in script builds every time; skip it when this registry already holds the
	# same stand-ins built from the same sources.
	sdir=$(cd "$(dirname "$STANDIN_BUILD")" && pwd)
	key=$( (
		printf '%s\n' "$registry" "${standins[@]}"
		cd "$sdir" && find . -maxdepth 1 -type f \( -name '*.go' -o -name 'go.*' -o -name '*.sh' \) -print0 |
			LC_ALL=C sort -z | xargs -0 sha256sum
	) | sha256sum | cut -d' ' -f1)
	present=1
	for s in "${standins[@]}"; do
		curl -fsS -o /dev/null --noproxy '*' -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
			"http://$registry/v2/${s%:*}/manifests/${s##*:}" 2>/dev/null || present=0
	done
	sname=standin-${registry//[^A-Za-z0-9]/_}
	if ((present)) && fresh "$sname" "$key"; then
		say "stand-ins already in $registry: ${standins[*]}"
	else
		say "building the stand-ins with $STANDIN_BUILD: ${standins[*]}"
		t=$SECONDS
		"$STANDIN_BUILD" "$registry" "${standins[@]}" >"$cache/logs/standin.log" 2>&1 ||
			{ tail -30 "$cache/logs/standin.log" >&2; die "the stand-in build failed"; }
		stamp "$sname" "$key"
		say "stand-ins pushed ($((SECONDS - t)) s)"
	fi
fi

say "done in $((SECONDS - t0)) s:"
for i in "${!refs[@]}"; do
	r=${recipes[$i]}
	if [[ $r == standin ]]; then
		printf '  %-60s stand-in\n' "${refs[$i]}" >&2
	else
		printf '  %-60s %s (%s)\n' "${refs[$i]}" "${built[$r]}" "${outcome[$r]}" >&2
	fi
done
