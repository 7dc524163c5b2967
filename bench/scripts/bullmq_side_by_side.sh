#!/usr/bin/env bash
# BullMQ, a job queue made of Lua scripts, on usher and on redis-server 7.0 side by side: for
# each server (fresh, in an empty folder, no persistence) 4 producers add --jobs jobs with
# addBulk, then 4 workers (concurrency --concurrency each) run them all (each job: BullMQ's
# moveToActive and moveToFinished scripts and a blocking wait on its marker key). Prints jobs
# per second and jobs per server-CPU-second (utime+stime from /proc over each phase) for each
# phase; servers interleaved, --runs rounds, medians at the end. Needs node and tests/node's
# packages (cd tests/node && npm install).
#
# Usage: bench/scripts/bullmq_side_by_side.sh [--jobs 40000] [--concurrency 10] [--runs 3]
#                                             [--threads "default 1"] [--baseline BIN]
#
# With --baseline BIN (an older usher build), its runs (rows base-*) are interleaved with the
# others, for before/after numbers taken under the same load.
set -euo pipefail
jobs=40000; concurrency=10; runs=3; threads="default 1"; baseline=
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs="$2"; shift 2 ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --baseline) baseline="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
usher=${USHER_BIN:-$root/target/release/usher}
. "$root/bench/scripts/lib.sh"
[ -d "$root/tests/node/node_modules/bullmq" ] || (cd "$root/tests/node" && npm install --no-audit --no-fund >/dev/null)
out=$(mktemp "${TMPDIR:-/tmp}/bullmq-bench.XXXXXX")
trap 'rm -f "$out"' EXIT

phase() { # label, port, pid, phase
  local c0 c1 secs
  c0=$(cpu_ticks "$3")
  secs=$(node "$root/bench/scripts/bullmq_load.js" "$2" "$4" "$jobs" "$concurrency")
  c1=$(cpu_ticks "$3")
  python3 -c "n, s, c, hz = $jobs, $secs, $c1 - $c0, $(getconf CLK_TCK); \
print(f'$1,$4,{n / s:.0f},{n * hz / c if c else float(\"nan\"):.0f}')"
}

one() { # label, binary, args...
  local label=$1 bin=$2 dir port pid; shift 2
  dir=$(mktemp -d "${TMPDIR:-/tmp}/bullmq-srv.XXXXXX"); port=$(free_port)
  "$bin" --port "$port" --save "" --dir "$dir" --loglevel warning "$@" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  phase "$label" "$port" "$pid" add
  phase "$label" "$port" "$pid" work
  kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$dir"
}

echo "server,phase,jobs_per_s,jobs_per_server_cpu_s"
for r in $(seq 1 "$runs"); do
  echo "round $r of $runs" >&2
  one redis redis-server
  for t in $threads; do
    usher_threads_args "$t"
    one "usher-$t" "$usher" "${THREADS_ARGS[@]}"
    [ -z "$baseline" ] || one "base-$t" "$baseline" "${THREADS_ARGS[@]}"
  done
done | tee "$out"
python3 - "$out" <<'PY'
import statistics, sys
runs = {}
for l in open(sys.argv[1]):
    if l.startswith("server,"):
        continue
    label, phase, *vals = l.strip().split(",")
    runs.setdefault((label, phase), []).append(list(map(float, vals)))
med = {k: [statistics.median(c) for c in zip(*v)] for k, v in runs.items()}
print("\nmedians (jobs/s, jobs per server-CPU-s; ratio to redis-server):")
for (label, phase), (ops, cpu) in sorted(med.items()):
    r_ops, r_cpu = med[("redis", phase)]
    print(f"{label:14} {phase:5} {ops:9.0f} {cpu:10.0f}   {ops / r_ops:.2f}x {cpu / r_cpu:.2f}x")
PY
