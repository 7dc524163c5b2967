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
run() { # label binary args...
  local label=$1 bin=$2; shift 2
  local dir port pid; dir=$(mktemp -d); port=$(free_port)
  "$bin" --port "$port" --save "" --dir "$dir" --loglevel warning "$@" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    redis-cli -p "$port" info persistence 2>/dev/null | grep -q '^loading:0' && break; sleep 0.1
  done
  local c0 c1 t0 t1
  c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
  redis-benchmark -p "$port" -n "$n" -q "${bench[@]}" >/dev/null
  t1=$(date +%s.%N); c1=$(cpu_ticks "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$dir"
  python3 -c "print('$label', round($n/($t1-$t0)), round($n*$(getconf CLK_TCK)/max(1,$c1-$c0)))"
}
for _ in $(seq "$rounds"); do
  while read -r label bin args; do
    [ -z "$label" ] || [[ "$label" == \#* ]] && continue
    # shellcheck disable=SC2086
    run "$label" "$bin" $args
  done < "$configs"
done | tee "$out"
python3 - "$out" <<'PY'
import collections, statistics, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    label, ops, cpu = line.split()
    d[label].append((int(ops), int(cpu)))
for label, v in d.items():
    print(f"{label}: median ops/s {statistics.median(x[0] for x in v):,.0f}, "
          f"ops per CPU-s {statistics.median(x[1] for x in v):,.0f} {[x[1] for x in v]}")
PY
