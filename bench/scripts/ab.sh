#!/usr/bin/env bash
# Interleaved A/B rounds of server configurations on one redis-benchmark workload: each round
# starts every configuration fresh (in an empty folder), runs the workload, and records ops/s
# and ops per server-CPU-second (utime+stime from /proc); prints every round and the medians.
#
# Usage: bench/scripts/ab.sh CONFIGS ROUNDS REQUESTS [redis-benchmark options...]
#   CONFIGS: a file of lines "label binary args...", e.g.
#     t1    target/release/usher --threads 1
#     t2    target/release/usher --threads 2
#     redis redis-server --appendonly no
# Example: bench/scripts/ab.sh configs.txt 3 200000 -t get -c 50 -r 100000
set -euo pipefail
configs=$1; rounds=$2; n=$3; shift 3
bench=("$@"); [ ${#bench[@]} -gt 0 ] || bench=(-t set -c 50 -r 100000)
. "$(dirname "$0")/lib.sh"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq "$rounds"); do
  while read -r label bin args; do
    [ -z "$label" ] || [[ "$label" == \#* ]] && continue
    # shellcheck disable=SC2086
    measure_fresh "$label" "$n" "${bench[*]}" "$bin" $args
  done < "$configs"
done | tee "$out"
python3 - "$out" <<'PY'
import collections, statistics, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    label, ops, cpu = line.strip().split(",")
    d[label].append((float(ops), float(cpu)))
for label, v in d.items():
    print(f"{label}: median ops/s {statistics.median(x[0] for x in v):,.0f}, "
          f"ops per CPU-s {statistics.median(x[1] for x in v):,.0f} {[round(x[1]) for x in v]}")
PY
