#!/usr/bin/env bash
# stats.sh PROJECT OUTFILE [INTERVAL_SECONDS]
#
# Samples `docker stats --no-stream` for the running containers of compose project PROJECT
# every INTERVAL seconds (default 5) until killed, and after each sample rewrites OUTFILE with
# one line per container: peak memory, the last sample (the idle figure once the stack has
# settled), the limit the engine enforces and the peak as a share of it. Only reads from
# Docker.
set -uo pipefail

project=${1:?usage: stats.sh PROJECT OUTFILE [INTERVAL_SECONDS]}
out=${2:?usage: stats.sh PROJECT OUTFILE [INTERVAL_SECONDS]}
interval=${3:-5}
declare -A peak=() last=() limit=() pct=()

# to_mib "1.5GiB" -> 1536 (integer MiB)
to_mib() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		f = (u == "GiB") ? 1024 : (u == "MiB") ? 1 : (u == "KiB") ? 1 / 1024 : (u == "B") ? 1 / 1048576 : (u == "GB") ? 953.67 : (u == "MB") ? 0.9537 : (u == "kB") ? 0.000954 : 1
		printf "%d", n * f + 0.5 }'
}

write_report() {
	{
		echo "# docker stats samples of project $project every ${interval}s, last at $(date +%T)"
		printf '%-40s %9s %9s %9s %6s\n' CONTAINER PEAK_MiB LAST_MiB LIMIT_MiB PEAK%
		for c in $(printf '%s\n' "${!peak[@]}" | sort); do
			printf '%-40s %9s %9s %9s %5s%%\n' "$c" "${peak[$c]}" "${last[$c]}" "${limit[$c]}" "${pct[$c]}"
		done
	} >"$out.tmp" && mv "$out.tmp" "$out"
}

while :; do
	ids=$(docker ps -q --filter "label=com.docker.compose.project=$project")
	if [[ -n $ids ]]; then
		# shellcheck disable=SC2086 # one argument per container id
		while read -r name usage lim; do
			[[ -n $name ]] || continue
			u=$(to_mib "$usage")
			l=$(to_mib "$lim")
			# A container that is stopping reports 0 / 0: keep what it had.
			((l > 0)) || continue
			last[$name]=$u
			limit[$name]=$l
			if ((u > ${peak[$name]:-0})); then
				peak[$name]=$u
				pct[$name]=$((u * 100 / l))
			fi
		done < <(docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' $ids 2>/dev/null | sed 's# / # #')
		write_report
	fi
	sleep "$interval"
done
