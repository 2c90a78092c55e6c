#!/usr/bin/env bash
# Entrypoint of the dataeco test image of postgres, with the official image's contract:
#   - arguments starting with '-' go to postgres;
#   - for `postgres` as root: PGDATA and the socket directory are given to the postgres user
#     and the script runs again as that user;
#   - on an empty PGDATA (no PG_VERSION): initdb with POSTGRES_USER (default postgres) and
#     POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_INITDB_ARGS;
#     local and loopback connections trusted (initdb's default), every other host with
#     POSTGRES_HOST_AUTH_METHOD (default scram-sha-256); listen on every address; then
#     POSTGRES_DB (default POSTGRES_USER) created and /docker-entrypoint-initdb.d/*.sh|*.sql
#     run against a server that listens on its Unix socket only;
#   - a PGDATA that is already initialised is used as it is: POSTGRES_* are ignored.
set -Eeuo pipefail

if [[ ${1:-} == -* ]]; then
	set -- postgres "$@"
fi

if [[ ${1:-} == postgres && $(id -u) == 0 ]]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	chown postgres:postgres /var/run/postgresql
	chmod 3777 /var/run/postgresql
	find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

log() { echo "docker-entrypoint.sh: $*" >&2; }

if [[ ${1:-} == postgres && ! -s $PGDATA/PG_VERSION ]]; then
	user=${POSTGRES_USER:-postgres}
	db=${POSTGRES_DB:-$user}
	method=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
	if [[ -z ${POSTGRES_PASSWORD:-} && $method != trust ]]; then
		cat >&2 <<-'MSG'
			Error: the database is not initialised and no superuser password is set.
			       Set POSTGRES_PASSWORD (or, to allow every connection without a password,
			       POSTGRES_HOST_AUTH_METHOD=trust).
		MSG
		exit 1
	fi
	log "initialising $PGDATA for user $user, database $db"
	pwfile=$(mktemp)
	printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS holds several options
	initdb --username="$user" --pwfile="$pwfile" -D "$PGDATA" ${POSTGRES_INITDB_ARGS:-}
	rm -f "$pwfile"
	echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
	printf '\n# added by docker-entrypoint.sh: every other host needs the password\nhost all all all %s\n' \
		"$method" >>"$PGDATA/pg_hba.conf"

	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
	export PGUSER=$user PGDATABASE=postgres
	if [[ $db != postgres ]]; then
		psql -v ON_ERROR_STOP=1 -q --set db="$db" <<-'SQL'
			SELECT format('CREATE DATABASE %I', :'db') \gexec
		SQL
	fi
	for f in /docker-entrypoint-initdb.d/*; do
		case $f in
		*.sh)
			log "running $f"
			# shellcheck disable=SC1090
			. "$f"
			;;
		*.sql)
			log "running $f"
			psql -v ON_ERROR_STOP=1 --dbname "$db" -f "$f"
			;;
		*) [[ ! -e $f ]] || log "ignoring $f" ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop
	unset PGUSER PGDATABASE
	log "initialisation done; starting PostgreSQL"
fi

exec "$@"
