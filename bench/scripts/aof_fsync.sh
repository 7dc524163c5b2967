#!/usr/bin/env bash
# What the append-only file costs: redis-benchmark SET with 50 clients against usher without
# persistence, usher with appendfsync everysec and always, and redis-server 7.0 with
# appendfsync always, each on a fresh server with its AOF in a scratch folder on the same
# disk. Prints plain ops/s and ops per server-CPU-second (utime+stime of the server process
# from /proc over the run) for each, and the ratios the project's targets name. Each
# configuration runs --runs times, interleaved (so a burst of load elsewhere on a shared machine
# hits all of them alike); the median of each column is reported.
#
# With --baseline BIN (an older usher build), its everysec/always/none runs are interleaved
# with the others (rows base-*), for before/after numbers taken under the same load.
#
# Usage: bench/scripts/aof_fsync.sh [--requests 200000] [--clients 50] [--threads 2] [--runs 3]
#                                   [--baseline BIN]
set -euo pipefail
requests=200000; clients=50; threads=2; runs=3; baseline=
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --baseline) baseline="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
usher=${USHER_BIN:-$root/target/release/usher}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/aof-bench.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
. "$root/bench/scripts/lib.sh"
one() { # label, server binary, args...
  measure_fresh "$1" "$requests" "-c $clients -t set -r 100000" "${@:2}"
}
echo "server,ops_per_s,ops_per_server_cpu_s"
for _ in $(seq 1 "$runs"); do
  one usher-none "$usher" --threads "$threads"
  one usher-everysec "$usher" --threads "$threads" --appendonly yes --appendfsync everysec
  one usher-always "$usher" --threads "$threads" --appendonly yes --appendfsync always
  one redis-always redis-server --appendonly yes --appendfsync always
  if [ -n "$baseline" ]; then
    one base-none "$baseline" --threads "$threads"
    one base-everysec "$baseline" --threads "$threads" --appendonly yes --appendfsync everysec
    one base-always "$baseline" --threads "$threads" --appendonly yes --appendfsync always
  fi
done | tee "$scratch/out.csv"
python3 - "$scratch/out.csv" <<'PY'
import statistics, sys
runs = {}
for l in open(sys.argv[1]):
    label, *vals = l.strip().split(",")
    runs.setdefault(label, []).append(list(map(float, vals)))
rows = {k: [statistics.median(c) for c in zip(*v)] for k, v in runs.items()}
print("median:")
for k, (ops, cpu) in rows.items():
    print(f"{k},{ops:.0f},{cpu:.0f}")
ev, none = rows["usher-everysec"], rows["usher-none"]
al, ral = rows["usher-always"], rows["redis-always"]
print(f"everysec / no persistence: {ev[0]/none[0]:.2f}x ops/s, {ev[1]/none[1]:.2f}x ops/CPU-s")
print(f"usher always / redis always: {al[0]/ral[0]:.2f}x ops/s, {al[1]/ral[1]:.2f}x ops/CPU-s")
if "base-none" in rows:
    bev, bnone, bal = rows["base-everysec"], rows["base-none"], rows["base-always"]
    print(f"baseline everysec / its no persistence: {bev[0]/bnone[0]:.2f}x ops/s, {bev[1]/bnone[1]:.2f}x ops/CPU-s")
    print(f"baseline always / redis always: {bal[0]/ral[0]:.2f}x ops/s, {bal[1]/ral[1]:.2f}x ops/CPU-s")
PY
