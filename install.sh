#!/bin/sh
# Installs dataeco from a GitHub release, checked against the release's checksums.txt,
# into ~/.local/bin, without sudo:
#
#   curl -fsSL https://github.com/dataeco/dataeco/releases/latest/download/install.sh | sh
#   curl -fsSL https://github.com/dataeco/dataeco/releases/latest/download/install.sh | sh -s -- --install
#
# Options:
#   --install   run `dataeco install` once the binary is in place (or DATAECO_RUN=install)
#   --yes, -y   with --install: take the default answers, ask nothing (or DATAECO_YES=1);
#               needed when there is no terminal to ask on
#   --force     download and install even when this version is already installed
#   --help      print this help
#
# Environment:
#   VERSION               the release to install, 1.2.3 or v1.2.3 (DATAECO_VERSION wins over
#                         it); default: the latest release
#   INSTALL_DIR           where to put the binary; default ~/.local/bin. sudo is used only when
#                         you name a directory you cannot write, such as /usr/local/bin
#   DATAECO_DOWNLOAD_URL  the releases URL, for mirrors and tests; default
#                         https://github.com/dataeco/dataeco/releases. It must serve
#                         <URL>/latest/download/<file> and <URL>/download/v<VERSION>/<file>.
#
# The latest version is read from the name of this platform's archive in
# <URL>/latest/download/checksums.txt, so no API (and no API rate limit) is involved.
# Needs: uname, tar, gzip, mktemp, awk, sed, grep, curl or wget, sha256sum or shasum.
#
# Everything happens in main, called on the last line: a truncated download runs nothing.
# Exit codes: 0 installed (or already there), 1 failure, 2 usage error; with --install,
# the exit code of `dataeco install`.

set -u

DEFAULT_DOWNLOAD_URL=https://github.com/dataeco/dataeco/releases

usage() {
	cat <<'EOF'
Installs dataeco into ~/.local/bin (or INSTALL_DIR), checked against the release's checksums.txt.

usage: install.sh [--install] [--yes] [--force]
       curl -fsSL https://github.com/dataeco/dataeco/releases/latest/download/install.sh | sh -s -- [OPTIONS]

  --install   run `dataeco install` afterwards (or DATAECO_RUN=install)
  --yes, -y   with --install: take the default answers (or DATAECO_YES=1)
  --force     reinstall even when this version is already installed
  --help      this help

environment: VERSION=1.2.3 (default: latest), INSTALL_DIR=DIR (default: ~/.local/bin),
             DATAECO_DOWNLOAD_URL=URL (default: https://github.com/dataeco/dataeco/releases)
EOF
}

say() {
	printf '%s\n' "$*" >&2
}

# die CODE MESSAGE [HINT...]: prints the error and what to try, then exits.
die() {
	die_code=$1
	printf 'error: %s\n' "$2" >&2
	shift 2
	for die_hint in "$@"; do
		printf '  %s\n' "$die_hint" >&2
	done
	exit "$die_code"
}

# cleanup runs on every exit: the temporary dir and a half-copied binary go.
cleanup() {
	if [ -n "${TMP_DIR:-}" ]; then
		rm -rf "$TMP_DIR"
	fi
	if [ -n "${STAGED:-}" ]; then
		as_owner rm -f "$STAGED" 2>/dev/null
	fi
}

is_true() {
	case ${1:-} in
	1 | [Tt][Rr][Uu][Ee] | [Yy][Ee][Ss] | [Yy]) return 0 ;;
	*) return 1 ;;
	esac
}

parse_args() {
	RUN=${DATAECO_RUN:-}
	YES=0
	if is_true "${DATAECO_YES:-}"; then
		YES=1
	fi
	FORCE=0
	while [ $# -gt 0 ]; do
		case $1 in
		--install) RUN=install ;;
		-y | --yes) YES=1 ;;
		--force) FORCE=1 ;;
		-h | --help)
			usage
			exit 0
			;;
		*) die 2 "unknown option: $1" "run with --help for the options" ;;
		esac
		shift
	done
	case $RUN in
	"" | install) ;;
	*) die 2 "DATAECO_RUN=$RUN: the only command install.sh runs is install" "use DATAECO_RUN=install, or leave it unset" ;;
	esac

	DOWNLOAD_URL=${DATAECO_DOWNLOAD_URL:-$DEFAULT_DOWNLOAD_URL}
	DOWNLOAD_URL=${DOWNLOAD_URL%/}

	WANT=${DATAECO_VERSION:-${VERSION:-latest}}
	WANT=${WANT#v}
	case $WANT in
	"" | *[!0-9A-Za-z.+-]*)
		die 2 "VERSION=$WANT is not a version" "use a release number such as VERSION=1.2.3, or leave VERSION unset for the latest"
		;;
	esac
}

# detect_platform sets OS and ARCH to the names in the release's archives.
detect_platform() {
	uname_s=$(uname -s 2>/dev/null) || uname_s=unknown
	uname_m=$(uname -m 2>/dev/null) || uname_m=unknown
	case $uname_s in
	Linux) OS=linux ;;
	Darwin) OS=darwin ;;
	MINGW* | MSYS* | CYGWIN* | Windows_NT)
		die 1 "install.sh does not install on Windows ($uname_s)" \
			"download dataeco_VERSION_windows_amd64.zip (or _arm64) from $DOWNLOAD_URL," \
			"check it against checksums.txt and put dataeco.exe on your PATH"
		;;
	*)
		die 1 "unsupported operating system: $uname_s (uname -s)" \
			"dataeco is built for Linux, macOS and Windows; on others, build it from source: go build -o dataeco ."
		;;
	esac
	case $uname_m in
	x86_64 | amd64) ARCH=amd64 ;;
	aarch64 | arm64) ARCH=arm64 ;;
	*)
		die 1 "unsupported CPU architecture: $uname_m (uname -m)" \
			"dataeco is built for amd64 (x86_64) and arm64 (aarch64) only"
		;;
	esac
	# A shell under Rosetta 2 reports x86_64 on Apple silicon: take the native build.
	if [ "$OS" = darwin ] && [ "$ARCH" = amd64 ]; then
		if [ "$(sysctl -n sysctl.proc_translated 2>/dev/null)" = 1 ]; then
			ARCH=arm64
		fi
	fi
}

# find_tools picks the downloader and the sha256 tool before anything is downloaded.
find_tools() {
	if command -v curl >/dev/null 2>&1; then
		DOWNLOADER=curl
	elif command -v wget >/dev/null 2>&1; then
		DOWNLOADER=wget
	else
		die 1 "neither curl nor wget is installed" "install one of them (for example: sudo apt-get install curl)"
	fi
	if command -v sha256sum >/dev/null 2>&1; then
		SHA_TOOL=sha256sum
	elif command -v shasum >/dev/null 2>&1; then
		SHA_TOOL=shasum
	else
		die 1 "no sha256 tool to check the download with: neither sha256sum nor shasum is installed" \
			"install coreutils (sha256sum) or perl (shasum); install.sh never installs an unchecked binary"
	fi
	for tool in tar gzip mktemp awk sed grep; do
		command -v "$tool" >/dev/null 2>&1 || die 1 "$tool is not installed, and install.sh needs it"
	done
}

# fetch URL FILE downloads URL into FILE. On failure it returns 1 and sets FETCH_ERROR, and
# FETCH_MISSING=1 when the server said the file does not exist.
fetch() {
	fetch_url=$1
	fetch_file=$2
	FETCH_ERROR=
	FETCH_MISSING=0
	if [ "$DOWNLOADER" = curl ]; then
		set -- --silent --show-error --location --retry 2 --connect-timeout 30 \
			--output "$fetch_file" --write-out '%{http_code}'
		case $fetch_url in
		https://*) set -- --proto '=https' --tlsv1.2 "$@" ;;
		esac
		if ! fetch_status=$(curl "$@" "$fetch_url" </dev/null); then
			FETCH_ERROR="could not download $fetch_url (curl failed)"
			return 1
		fi
		case $fetch_status in
		200) return 0 ;;
		404 | 410)
			FETCH_MISSING=1
			FETCH_ERROR="$fetch_url: not found (HTTP $fetch_status)"
			;;
		*) FETCH_ERROR="$fetch_url: HTTP $fetch_status" ;;
		esac
		return 1
	fi
	wget -q -O "$fetch_file" "$fetch_url" </dev/null && return 0
	fetch_status=$?
	# GNU wget exits 8 when the server answers with an error (404 included).
	if [ "$fetch_status" = 8 ]; then
		FETCH_MISSING=1
		FETCH_ERROR="$fetch_url: the server answered with an error (not found?)"
	else
		FETCH_ERROR="could not download $fetch_url (wget exit $fetch_status)"
	fi
	return 1
}

# sha256 FILE prints the file's sha256 in lower case.
sha256() {
	if [ "$SHA_TOOL" = sha256sum ]; then
		sha256sum "$1" | awk '{ print tolower($1) }'
	else
		shasum -a 256 "$1" | awk '{ print tolower($1) }'
	fi
}

# installed_version DIR sets INSTALLED to the version of DIR/dataeco, or empty.
installed_version() {
	INSTALLED=
	if [ -x "$1/dataeco" ] && installed_json=$("$1/dataeco" version --json 2>/dev/null </dev/null); then
		INSTALLED=$(printf '%s\n' "$installed_json" | sed -n 's/.*"version" *: *"\([^"]*\)".*/\1/p' | sed -n 1p)
	fi
}

# writable DIR is true when DIR, or the nearest existing directory above it, is writable.
writable() {
	writable_dir=$1
	while [ ! -e "$writable_dir" ]; do
		writable_dir=$(dirname "$writable_dir")
	done
	[ -d "$writable_dir" ] && [ -w "$writable_dir" ]
}

# choose_dir sets BIN_DIR and USE_SUDO, and fails before any download when it cannot write.
choose_dir() {
	USE_SUDO=0
	if [ -n "${INSTALL_DIR:-}" ]; then
		BIN_DIR=$INSTALL_DIR
		case $BIN_DIR in
		/*) ;;
		*) BIN_DIR=$(pwd)/$BIN_DIR ;;
		esac
	else
		[ -n "${HOME:-}" ] || die 1 "HOME is not set, so there is no ~/.local/bin" "set INSTALL_DIR to the directory to install into"
		BIN_DIR=$HOME/.local/bin
	fi
	while [ "$BIN_DIR" != / ] && [ "${BIN_DIR%/}" != "$BIN_DIR" ]; do
		BIN_DIR=${BIN_DIR%/}
	done
	if writable "$BIN_DIR"; then
		return 0
	fi
	if [ -z "${INSTALL_DIR:-}" ]; then
		die 1 "cannot write to $BIN_DIR" "set INSTALL_DIR to a directory you can write, for example INSTALL_DIR=/tmp/dataeco-bin"
	fi
	if [ "$(id -u)" = 0 ]; then
		die 1 "cannot write to $BIN_DIR, even as root (a read-only file system?)" "set INSTALL_DIR to another directory"
	fi
	if ! command -v sudo >/dev/null 2>&1; then
		die 1 "cannot write to $BIN_DIR, and sudo is not installed" \
			"leave INSTALL_DIR unset to install into ~/.local/bin, or run install.sh as root"
	fi
	say "$BIN_DIR is not writable by you: sudo will ask for your password to install there"
	USE_SUDO=1
}

# as_owner runs a command as whoever can write BIN_DIR.
as_owner() {
	if [ "${USE_SUDO:-0}" = 1 ]; then
		sudo "$@"
	else
		"$@"
	fi
}

# resolve_latest reads the latest version off this platform's archive name in checksums.txt.
resolve_latest() {
	fetch "$DOWNLOAD_URL/latest/download/checksums.txt" "$TMP_DIR/checksums.txt" ||
		die 1 "could not find the latest release: $FETCH_ERROR" \
			"check your connection, or name a release: VERSION=1.2.3 (see $DOWNLOAD_URL)"
	latest_names=$(awk '{ sub(/^\*/, "", $2); print $2 }' "$TMP_DIR/checksums.txt" |
		grep -E "^dataeco_[0-9A-Za-z.+-]+_${OS}_${ARCH}\.tar\.gz\$")
	case $latest_names in
	"")
		die 1 "the latest release has no archive for $OS/$ARCH in its checksums.txt" \
			"see $DOWNLOAD_URL for the platforms it has"
		;;
	*"
"*)
		die 1 "the latest release's checksums.txt lists more than one archive for $OS/$ARCH" \
			"name a release: VERSION=1.2.3"
		;;
	esac
	VERSION_FOUND=${latest_names#dataeco_}
	VERSION_FOUND=${VERSION_FOUND%_"${OS}"_"${ARCH}".tar.gz}
}

# download_release downloads checksums.txt (unless resolve_latest did) and the archive, and
# checks the archive's sha256 against its line in checksums.txt.
download_release() {
	release_url=$DOWNLOAD_URL/download/v$VERSION_FOUND
	if [ ! -f "$TMP_DIR/checksums.txt" ]; then
		if ! fetch "$release_url/checksums.txt" "$TMP_DIR/checksums.txt"; then
			if [ "$FETCH_MISSING" = 1 ]; then
				die 1 "there is no release v$VERSION_FOUND ($FETCH_ERROR)" \
					"see $DOWNLOAD_URL for the versions, or leave VERSION unset for the latest"
			fi
			die 1 "$FETCH_ERROR" "check your connection and try again"
		fi
	fi
	ARCHIVE=dataeco_${VERSION_FOUND}_${OS}_${ARCH}.tar.gz
	expected=$(awk -v f="$ARCHIVE" '$2 == f || $2 == "*" f { print tolower($1) }' "$TMP_DIR/checksums.txt")
	case $expected in
	"")
		die 1 "checksums.txt of v$VERSION_FOUND has no entry for $ARCHIVE: nothing installed" \
			"the release has no build for $OS/$ARCH, or its checksums.txt is damaged"
		;;
	*[!0-9a-f]*)
		die 1 "checksums.txt of v$VERSION_FOUND has a malformed entry for $ARCHIVE: nothing installed"
		;;
	esac
	[ ${#expected} -eq 64 ] || die 1 "checksums.txt of v$VERSION_FOUND has a malformed entry for $ARCHIVE: nothing installed"

	say "downloading $release_url/$ARCHIVE"
	if ! fetch "$release_url/$ARCHIVE" "$TMP_DIR/$ARCHIVE"; then
		die 1 "$FETCH_ERROR" "check your connection and try again"
	fi
	actual=$(sha256 "$TMP_DIR/$ARCHIVE")
	if [ "$actual" != "$expected" ]; then
		die 1 "sha256 mismatch for $ARCHIVE: nothing installed" \
			"checksums.txt says $expected" \
			"the download is  $actual" \
			"the download was corrupted or tampered with; try again, and report it if it persists"
	fi
	say "sha256 checked: $actual"
	mkdir "$TMP_DIR/unpacked" || die 1 "cannot create a directory in $TMP_DIR"
	if ! gzip -dc "$TMP_DIR/$ARCHIVE" | (cd "$TMP_DIR/unpacked" && tar -xf -); then
		die 1 "could not unpack $ARCHIVE"
	fi
	[ -f "$TMP_DIR/unpacked/dataeco" ] || die 1 "$ARCHIVE has no dataeco binary"
}

# place_binary copies the new binary next to the old one and renames it over it, so a
# running dataeco is never overwritten in place and an interrupted copy leaves nothing.
place_binary() {
	as_owner mkdir -p "$BIN_DIR" || die 1 "cannot create $BIN_DIR"
	STAGED=$BIN_DIR/.dataeco.new.$$
	as_owner cp "$TMP_DIR/unpacked/dataeco" "$STAGED" || die 1 "cannot write to $BIN_DIR"
	as_owner chmod 755 "$STAGED" || die 1 "cannot make $STAGED executable"
	as_owner mv -f "$STAGED" "$BIN_DIR/dataeco" || die 1 "cannot move the new binary to $BIN_DIR/dataeco"
	STAGED=
	if ! new_version=$("$BIN_DIR/dataeco" version 2>&1 </dev/null); then
		die 1 "installed $BIN_DIR/dataeco, but it does not run: $new_version" \
			"is $BIN_DIR on a file system mounted noexec, or is this the wrong platform ($OS/$ARCH)?"
	fi
	say "installed $new_version to $BIN_DIR/dataeco"
}

# path_advice says how to put BIN_DIR on PATH when it is not, and warns about another
# dataeco that would run instead.
path_advice() {
	case ":${PATH:-}:" in
	*":$BIN_DIR:"* | *":$BIN_DIR/:"*)
		first=$(command -v dataeco 2>/dev/null)
		if [ -n "$first" ] && [ "$first" != "$BIN_DIR/dataeco" ]; then
			say "note: $first comes first on your PATH; remove it, or run $BIN_DIR/dataeco"
		fi
		return 0
		;;
	esac
	case ${SHELL:-} in
	*/zsh) rc=${HOME:-}/.zshrc ;;
	*/bash) rc=${HOME:-}/.bashrc ;;
	*/fish)
		say ""
		say "$BIN_DIR is not on your PATH. To add it, run:"
		say "  fish_add_path $BIN_DIR"
		return 0
		;;
	*) rc=${HOME:-}/.profile ;;
	esac
	say ""
	say "$BIN_DIR is not on your PATH. To add it, run:"
	say "  echo 'export PATH=\"$BIN_DIR:\$PATH\"' >> \"$rc\""
	say "and open a new terminal (or run $BIN_DIR/dataeco by its full path)."
}

# run_install runs `dataeco install`, with its questions on the terminal even when this script
# came through a pipe, and never waiting on a terminal that is not there.
run_install() {
	if [ "$YES" = 1 ]; then
		say "running: dataeco install --yes"
		"$BIN_DIR/dataeco" install --yes </dev/null
		return $?
	fi
	if [ -t 0 ]; then
		say "running: dataeco install"
		"$BIN_DIR/dataeco" install
		return $?
	fi
	# Piped (curl | sh): stdin is the script, so the questions are asked on the terminal.
	if (: </dev/tty) 2>/dev/null; then
		say "running: dataeco install (answering on your terminal)"
		"$BIN_DIR/dataeco" install </dev/tty
		return $?
	fi
	die 2 "dataeco is installed, but there is no terminal to answer dataeco install's questions on" \
		"pass --yes to take the defaults: curl -fsSL $DEFAULT_DOWNLOAD_URL/latest/download/install.sh | sh -s -- --install --yes" \
		"or run it yourself later: $BIN_DIR/dataeco install --yes"
}

main() {
	parse_args "$@"
	detect_platform
	find_tools
	choose_dir
	case $DOWNLOAD_URL in
	https://* | http://127.0.0.1[:/]* | http://localhost[:/]* | http://\[::1\][:/]*) ;;
	*) say "warning: $DOWNLOAD_URL is not https: checksums.txt comes over the same connection as the archive" ;;
	esac

	TMP_DIR=
	STAGED=
	trap cleanup EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	TMP_DIR=$(mktemp -d 2>/dev/null || mktemp -d -t dataeco) || die 1 "mktemp cannot create a temporary directory"

	if [ "$WANT" = latest ]; then
		resolve_latest
		say "latest release: $VERSION_FOUND ($OS/$ARCH)"
	else
		VERSION_FOUND=$WANT
		say "release: $VERSION_FOUND ($OS/$ARCH)"
	fi

	installed_version "$BIN_DIR"
	if [ "$INSTALLED" = "$VERSION_FOUND" ] && [ "$FORCE" = 0 ]; then
		say "dataeco $VERSION_FOUND is already installed in $BIN_DIR: nothing downloaded (--force reinstalls)"
	else
		download_release
		place_binary
	fi
	path_advice

	rm -rf "$TMP_DIR"
	TMP_DIR=
	if [ "$RUN" = install ]; then
		run_install
		exit $?
	fi
	say ""
	say "next: dataeco install   (it checks Docker, asks a few questions and starts the stack)"
}

# The braces make sh read this whole line before running it: cut anywhere, even right after
# "main", the script is a syntax error and does nothing.
{ main "$@"; }
