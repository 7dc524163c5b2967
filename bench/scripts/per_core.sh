#!/usr/bin/env bash
# Issue 17's rows in one command, in the configuration a newcomer gets (usher started with no
# flags, so `threads` is the core count): ops per server-CPU-second of usher over redis-server
# for every row, with the goal each row has and whether it is met.
#
# - Core commands (PING SET GET INCR SADD ZADD ZPOPMIN LPUSH HSET MSET LPOP, `-r 100000`), at
#   `-P 1` (goal 1.3x) and `-P 16` (goal 2x): `side_by_side.sh --threads default`, 50 clients,
#   best of --runs.
# - Waiting-room commands (ENTER, QPOS, SEATLOCK, ADMIT, SEATCONFIRM) against the seed scripts
#   through EVALSHA on redis-server, one command at a time on a pre-filled line: `ticket_rush.sh
#   --lean --threads default` with a one-op mix, median of --runs; goal 5x, with p99 no worse.
#   SEATCONFIRM confirms seats held before the run (10,000, each by its own user, with their
#   fencing tokens) against `payment_verify.lua`.
#
# Writes bench/results/per_core.csv (appended, one block per invocation) and, with matplotlib,
# docs/img/per_core.png (bench/scripts/plot_per_core.py; PER_CORE_BEFORE=<run_id> adds that
# earlier run as "before" markers); prints a markdown table. PER_CORE_COMMIT labels the run
# (default: the checkout's commit), for a run of another build through USHER_BIN.
#
# Usage: bench/scripts/per_core.sh [--runs 3] [--duration 5] [--waiting 100000] [--no-plot]
# Env:   USHER_BIN (default target/release/usher), REDIS_SERVER (default redis-server)
set -euo pipefail
runs=3; duration=5; waiting=100000; plot=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --waiting) waiting="$2"; shift 2 ;;
    --no-plot) plot=0; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
scripts=$root/bench/scripts
[ -x "${USHER_BIN:-$root/target/release/usher}" ] || { echo "cargo build --release first" >&2; exit 1; }
[ -x "$root/target/release/ticket_rush" ] || cargo build --release -p usher-bench --bin ticket_rush
tmp=$(mktemp -d "${TMPDIR:-/tmp}/per-core.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
core="ping,set,get,incr,sadd,zadd,zpopmin,lpush,hset,mset,lpop"
echo "per_core: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for p in 1 16; do
  n=200000; [ "$p" = 16 ] && n=1000000
  echo "core commands, P=$p ..." >&2
  "$scripts/side_by_side.sh" -t "$core" -P "$p" -n "$n" -r 100000 --threads default \
    --runs "$runs" --out "$tmp/core_p$p.csv" >/dev/null
done
for op in join poll seat admit confirm; do
  mix="join=0,poll=0,seat=0,admit=0,confirm=0"; mix=${mix/$op=0/$op=1}
  echo "waiting room, $op ..." >&2
  mkdir -p "$tmp/rush_$op"
  "$scripts/ticket_rush.sh" --no-build --no-plot --lean --threads default --runs "$runs" \
    --duration "$duration" --waiting "$waiting" --pipelines "1 16" --mix "$mix" \
    --results "$tmp/rush_$op" >/dev/null 2>&1
done
commit=${PER_CORE_COMMIT:-$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)}
python3 - "$tmp" "$root" "$commit" <<'PY'
import csv, datetime, os, sys
tmp, root, commit = sys.argv[1], sys.argv[2], sys.argv[3]
rows = []  # (group, row, P, goal, ratio, redis p99 us, usher p99 us)
for p in (1, 16):
    for r in csv.DictReader(open(os.path.join(tmp, f"core_p{p}.csv"))):
        rows.append(("core", r["test"].upper(), p, 1.3 if p == 1 else 2.0,
                     float(r["cpu_ratio"]), None, None))
cpu = {}  # (row, P): redis user, redis sys, usher user, usher sys (µs per op)
names = {"join": "ENTER", "poll": "QPOS", "seat": "SEATLOCK", "admit": "ADMIT",
         "confirm": "SEATCONFIRM"}
for op, name in names.items():
    summary = list(csv.DictReader(open(os.path.join(tmp, f"rush_{op}", "ticket_rush_summary.csv"))))
    by = {(m["label"].split("/")[0], int(m["pipeline"])): m for m in summary}
    for p in (1, 16):
        redis, usher = by[("redis", p)], by[("usher-tdefault", p)]
        ratio = float(usher["ops_per_server_cpu_s"]) / float(redis["ops_per_server_cpu_s"])
        rows.append(("waiting room", name, p, 5.0, ratio,
                     float(redis[f"{op}_p99_us"]), float(usher[f"{op}_p99_us"])))
        cpu[(name, p)] = [float(m[f"server_{k}_us_per_op"]) for m in (redis, usher)
                          for k in ("user", "sys")]
stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
path = os.path.join(root, "bench", "results", "per_core.csv")
fresh = not os.path.exists(path) or os.path.getsize(path) == 0
with open(path, "a", newline="") as f:
    w = csv.writer(f)
    if fresh:
        w.writerow(["run_id", "commit", "cores", "group", "row", "pipeline", "goal",
                    "ratio", "redis_p99_us", "usher_p99_us", "met"])
    for g, row, p, goal, ratio, rp, up in rows:
        met = ratio >= goal and (rp is None or up <= rp)
        w.writerow([stamp, commit, os.cpu_count(), g, row, p, goal, f"{ratio:.2f}",
                    "" if rp is None else f"{rp:.0f}", "" if up is None else f"{up:.0f}", met])
print(f"\nPer-core rows {stamp} (commit {commit}, {os.cpu_count()} cores, usher with no flags)\n")
print("| row | P | usher / redis, ops per server-CPU-s | goal | p99 µs redis / usher "
      "| server µs/op redis (user + sys) / usher | met |")
print("| --- | --: | --: | --: | --: | --: | --- |")
for g, row, p, goal, ratio, rp, up in rows:
    p99 = "" if rp is None else f"{rp:,.0f} / {up:,.0f}"
    c = cpu.get((row, p))
    us = "" if c is None else f"{c[0]:.1f} + {c[1]:.1f} / {c[2]:.1f} + {c[3]:.1f}"
    met = ratio >= goal and (rp is None or up <= rp)
    print(f"| {row} | {p} | **{ratio:.2f}** | {goal:g}x | {p99} | {us} | {'yes' if met else 'no'} |")
PY
if [ "$plot" = 1 ]; then
  before=()
  [ -n "${PER_CORE_BEFORE:-}" ] && before=(--before "$PER_CORE_BEFORE")
  python3 "$scripts/plot_per_core.py" "$root/bench/results/per_core.csv" "$root/docs/img/per_core.png" \
    "${before[@]}" || echo "(no plot: matplotlib missing?)"
fi
