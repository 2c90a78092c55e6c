#!/usr/bin/env bash
# latency.sh [TRIGGER...]
#
# The pipeline's end-to-end latency on the real software (testdata/realstack), and what the
# streaming job costs while idle, for each micro-batch trigger given (default: the job's old
# "5 seconds" and its current "1 second"), side by side in one run:
#   - latency: BenchmarkRealPipelineLatency, 10 marked users produced and read back from
#     Cassandra (median, min, max);
#   - idle CPU: the CPU time the job's driver (spark-submit's JVM and its Python) and its
#     executor use over IDLE_SECONDS (default 60) with nothing produced, as a share of one core.
# Each trigger gets a fresh start of the real servers (with-stack.sh), STREAM_TRIGGER passed
# to the job. Prints a table; nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/../.."
triggers=("$@")
((${#triggers[@]})) || triggers=("5 seconds" "1 second")
idle=${IDLE_SECONDS:-60}
results=$(mktemp)
trap 'rm -f "$results"' EXIT

for trigger in "${triggers[@]}"; do
  echo "latency: trigger $trigger" >&2
  STREAM_TRIGGER=$trigger IDLE_SECONDS=$idle TRIGGER=$trigger RESULTS=$results \
    testdata/realstack/with-stack.sh sh -c '
      run=testdata/realstack/run
      sleep 15
      cpu=$(python3 testdata/bench/jobcpu.py "$(cat $run/spark-stream.pid)" "$(cat $run/spark-worker.pid)" "$IDLE_SECONDS")
      bench=$(go test -count=1 -run "^\$" -bench RealPipelineLatency -benchtime 10x ./checks | grep -E "^BenchmarkRealPipelineLatency")
      echo "$TRIGGER|$cpu|$bench" >>"$RESULTS"
    '
done

printf "%-12s %16s %12s %10s %10s\n" trigger "idle CPU, % core" median min max
while IFS='|' read -r trigger cpu bench; do
  med=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "median-ms") print $i}' <<<"$bench")
  min=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "min-ms") print $i}' <<<"$bench")
  max=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "max-ms") print $i}' <<<"$bench")
  printf "%-12s %16s %10s ms %7s ms %7s ms\n" "$trigger" "$cpu" "$med" "$min" "$max"
done <"$results"
