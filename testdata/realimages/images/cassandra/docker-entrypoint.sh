#!/usr/bin/env bash
# Entrypoint of the dataeco test image of cassandra:5.0.9, with the official image's
# contract: arguments starting with '-' go to `cassandra -f`; for `cassandra`, it sets the
# addresses, seeds, cluster name, token count and snitch in cassandra.yaml from CASSANDRA_*
# variables, gives the data, log and config directories to the cassandra user and runs the
# command as that user. Any other command runs as given.
set -euo pipefail

if [[ ${1:-} == -* ]]; then
	set -- cassandra -f "$@"
fi
conf=${CASSANDRA_CONF:-/etc/cassandra}

if [[ ${1:-} == cassandra && $(id -u) == 0 ]]; then
	find /var/lib/cassandra /var/log/cassandra "$conf" ! -user cassandra -exec chown cassandra: '{}' +
	exec setpriv --reuid=cassandra --regid=cassandra --init-groups "$0" "$@"
fi

# set_yaml KEY VALUE replaces the line "KEY: ..." (or "# KEY: ...") of cassandra.yaml.
set_yaml() {
	local key=$1 value=$2 tmp
	tmp=$(mktemp "$conf/.cassandra.yaml.XXXXXX")
	awk -v key="$key" -v value="$value" '
		!done && $0 ~ "^(#[ \t]*)?" key ":" { print key ": " value; done = 1; next }
		{ print }
		END { if (!done) print key ": " value }' "$conf/cassandra.yaml" >"$tmp"
	cat "$tmp" >"$conf/cassandra.yaml"
	rm -f "$tmp"
}

if [[ ${1:-} == cassandra ]]; then
	ip=$(hostname --ip-address | awk '{print $1}')
	listen=${CASSANDRA_LISTEN_ADDRESS:-auto}
	[[ $listen != auto ]] || listen=$ip
	broadcast=${CASSANDRA_BROADCAST_ADDRESS:-$listen}
	[[ $broadcast != auto ]] || broadcast=$ip
	rpc=${CASSANDRA_RPC_ADDRESS:-0.0.0.0}
	broadcast_rpc=${CASSANDRA_BROADCAST_RPC_ADDRESS:-$broadcast}
	[[ $broadcast_rpc != auto ]] || broadcast_rpc=$ip
	seeds=${CASSANDRA_SEEDS:-$broadcast}

	set_yaml listen_address "$listen"
	set_yaml broadcast_address "$broadcast"
	set_yaml rpc_address "$rpc"
	set_yaml broadcast_rpc_address "$broadcast_rpc"
	sed -i -E "s|^([[:space:]]*- seeds:).*|\\1 \"${seeds//|/}\"|" "$conf/cassandra.yaml"
	[[ -z ${CASSANDRA_CLUSTER_NAME:-} ]] || set_yaml cluster_name "'${CASSANDRA_CLUSTER_NAME//\'/\'\'}'"
	[[ -z ${CASSANDRA_NUM_TOKENS:-} ]] || set_yaml num_tokens "$CASSANDRA_NUM_TOKENS"
	[[ -z ${CASSANDRA_ENDPOINT_SNITCH:-} ]] || set_yaml endpoint_snitch "$CASSANDRA_ENDPOINT_SNITCH"
	echo "docker-entrypoint.sh: listen $listen, broadcast $broadcast, rpc $rpc, seeds $seeds" >&2
fi

exec "$@"
