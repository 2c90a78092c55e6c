#!/usr/bin/env bash
# Fetches a Docker Engine newer than the machine's for the end-to-end tests whose subject
# changes with the engine's version (installer/e2e/swarmjobs_test.go): Debian 13's docker.io,
# unpacked (not installed) into a cache dir, checked from the archive's signed InRelease down
# to the package. Debian 12's own docker.io (20.10, the seed's minimum) stays the machine's
# engine. Prints the path of the unpacked dockerd; docker-proxy and docker-init are beside it
# (usr/sbin, usr/bin). Runs again in no time once the package is there.
#   testdata/engines/fetch.sh [DIR]     (default: ~/.cache/dataeco/engine-trixie)
# SUITE and DEBIAN_MIRROR choose another release or mirror.
set -euo pipefail
suite=${SUITE:-trixie}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
dir=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/dataeco/engine-$suite}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
arch=$(dpkg --print-architecture)

if [ -x "$dir/usr/sbin/dockerd" ]; then
  echo "$dir/usr/sbin/dockerd"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# get URL FILE downloads, naming the URL when it fails.
get() {
  curl -fsS --retry 3 "$1" -o "$2" || { echo "fetch.sh: could not download $1 (DEBIAN_MIRROR, SUITE)" >&2; exit 1; }
}

# The release file, signed by Debian's archive key (Debian 12's keyring has Debian 13's).
get "$mirror/dists/$suite/InRelease" "$tmp/InRelease"
gpgv --keyring "$keyring" --output "$tmp/Release" "$tmp/InRelease" 2>"$tmp/gpgv.log" ||
  { cat "$tmp/gpgv.log" >&2; echo "fetch.sh: $suite's InRelease is not signed by a key of $keyring" >&2; exit 1; }
# The package index, by the checksum the release file gives.
index="main/binary-$arch/Packages.xz"
sum=$(awk -v f="$index" '/^SHA256:/ { s = 1; next } /^[^ ]/ { s = 0 } s && $3 == f { print $1 }' "$tmp/Release")
[ -n "$sum" ] || { echo "fetch.sh: $suite's release file lists no $index" >&2; exit 1; }
get "$mirror/dists/$suite/$index" "$tmp/Packages.xz"
echo "$sum  $tmp/Packages.xz" | sha256sum -c --quiet
# The package, by the checksum the index gives.
read -r file sum < <(xz -dc "$tmp/Packages.xz" | awk '
  /^Package: / { p = ($2 == "docker.io") }
  p && /^Filename: / { f = $2 }
  p && /^SHA256: / { s = $2 }
  /^$/ { if (p && f != "") { print f, s; exit } p = 0 }')
[ -n "${file:-}" ] || { echo "fetch.sh: $suite has no docker.io for $arch" >&2; exit 1; }
get "$mirror/$file" "$tmp/docker.deb"
echo "$sum  $tmp/docker.deb" | sha256sum -c --quiet
mkdir -p "$(dirname "$dir")"
rm -rf "$dir.tmp"
dpkg-deb -x "$tmp/docker.deb" "$dir.tmp"
"$dir.tmp/usr/sbin/dockerd" --version >&2
mv "$dir.tmp" "$dir"
echo "$dir/usr/sbin/dockerd"
