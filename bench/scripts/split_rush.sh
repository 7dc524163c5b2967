#!/usr/bin/env bash
# Split lines on one node: one event's ENTER + QPOS + ADMIT mix with the line unsplit (K = 1)
# and split over K = 2, 4, 8 sub-queues (QSPLIT after the pre-fill), every run on a fresh
# server with the same configuration (--threads 2 --shards 8), interleaved over --runs
# repetitions. Reports throughput and ops per server-CPU-second (from /proc/<pid>/stat around
# the measured phase), the median of the runs for each K.
#
# Usage: bench/scripts/split_rush.sh [--runs 3] [--duration 8] [--waiting 100000] [--conns 50]
#          [--ks "1 2 4 8"] [--threads 2] [--shards 8] [--mix join=10,poll=89,admit=1]
#          [--plot docs/img/split_rush.png]
# --plot draws ops/s and ops per server-CPU-second against K (needs matplotlib).
# Env:   USHER_BIN, TICKET_RUSH (default target/release/{usher,ticket_rush}), BASE_PORT
#        (18100: the server for K listens on BASE_PORT + K)
set -euo pipefail
base_port=${BASE_PORT:-18100}; runs=3; duration=8; waiting=100000; conns=50; ks="1 2 4 8"; threads=2; shards=8
mix="join=10,poll=89,seat=0,admit=1"
plot=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --waiting) waiting="$2"; shift 2 ;;
    --conns) conns="$2"; shift 2 ;;
    --ks) ks="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --shards) shards="$2"; shift 2 ;;
    --mix) mix="$2"; shift 2 ;;
    --plot) plot="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
usher_bin=${USHER_BIN:-$target/release/usher}
rush=${TICKET_RUSH:-$target/release/ticket_rush}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for run in $(seq "$runs"); do
  for k in $ks; do
    dir=$(mktemp -d)
    port=$((base_port + k))
    "$usher_bin" --port "$port" --threads "$threads" --shards "$shards" \
      --save "" --dir "$dir" >"$dir/log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
      redis-cli -p "$port" ping >/dev/null 2>&1 && break
      sleep 0.05
    done
    "$rush" --port "$port" --server-pid "$pid" --waiting "$waiting" --duration "$duration" \
      --conns "$conns" --mix "$mix" --split "$k" --quiet --label "k=$k" \
      --csv "$out/k$k.csv" >/dev/null
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$dir"
  done
done
python3 - "$out" "$plot" $ks <<'PY'
import csv, statistics, sys
out, plot, ks = sys.argv[1], sys.argv[2], sys.argv[3:]
curve = []
print("| K | ops/s (median) | ops per server-CPU-second (median) | vs K=1 | errors |")
print("|---|---|---|---|---|")
base = None
for k in ks:
    rows = list(csv.DictReader(open(f"{out}/k{k}.csv")))
    ops = statistics.median(float(r["ops_s"]) for r in rows)
    errors = sum(int(r["errors"]) for r in rows)
    eff = statistics.median(float(r["ops_per_server_cpu_s"]) for r in rows)
    base = base or eff
    print(f"| {k} | {ops:,.0f} | {eff:,.0f} | {100 * (eff / base - 1):+.1f}% | {errors} |")
    curve.append((int(k), ops, eff))
if plot:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.6))
    xs = [c[0] for c in curve]
    ax.plot(xs, [c[1] / 1000 for c in curve], marker="o", label="ops/s (thousands)")
    ax.plot(xs, [c[2] / 1000 for c in curve], marker="s", label="ops per server-CPU-second (thousands)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.set_xlabel("sub-queues K (one node)")
    ax.set_ylim(bottom=0)
    ax.set_title("One event split over K sub-queues: ENTER + QPOS + ADMIT")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(plot, dpi=120)
    print(f"plot: {plot}")
PY
