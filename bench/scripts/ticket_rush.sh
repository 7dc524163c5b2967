#!/usr/bin/env bash
# The ticket-rush benchmark, side by side: usher's native commands (ENTER, QPOS, ADMIT,
# SEATLOCK, SEATCONFIRM with `--mix ...,confirm=N`) against the seed scripts through EVALSHA on redis-server, plus the fairness variant
# where Redis polls with plain ZRANK + ZCARD.
#
# Every configuration runs on a fresh server (so each starts from an empty keyspace and the same
# pre-filled line), `--runs` times, interleaved (repetition 1 of every configuration, then
# repetition 2, ...) so a noisy neighbour spreads over all of them; every reported figure is the
# median of its runs. Server CPU comes from /proc/<pid>/stat around the measured phase.
#
# Usage: bench/scripts/ticket_rush.sh [--runs 3] [--duration 10] [--waiting 100000]
#          [--conns 50] [--pipelines "1 16"] [--threads "1 2"] [--mix join=10,poll=75,seat=14,admit=1]
#          [--servers "redis usher"] [--no-build] [--no-plot] [--results DIR] [--lean]
# --threads takes "default" too (no flag: what a plain `cargo run --release` starts); --lean runs
# only Redis with the seed scripts and usher native (no ZRANK polling, no usher running scripts).
# Env:   USHER_BIN (default target/release/usher), REDIS_SERVER (default redis-server)
#
# Writes: bench/results/ticket_rush.csv (every run, appended), bench/results/ticket_rush_summary.csv
# (medians, appended, one block per invocation), docs/img/ticket_rush.png (plot of this invocation).
set -euo pipefail

runs=3
duration=10
waiting=100000
conns=50
pipelines="1 16"
threads_list="1 2"
servers="redis usher"
mix="join=10,poll=75,seat=14,admit=1"
build=1
plot=1
lean=0
root=$(cd "$(dirname "$0")/../.." && pwd)
results="$root/bench/results"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --waiting) waiting="$2"; shift 2 ;;
    --conns) conns="$2"; shift 2 ;;
    --pipelines) pipelines="$2"; shift 2 ;;
    --threads) threads_list="$2"; shift 2 ;;
    --mix) mix="$2"; shift 2 ;;
    --lean) lean=1; shift ;;
    --servers) servers="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --no-plot) plot=0; shift ;;
    --results) results="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

cd "$root"
if [ "$build" = 1 ]; then
  cargo build --release -p usher-server
  cargo build --release -p usher-bench --bin ticket_rush
fi
usher_bin=${USHER_BIN:-$root/target/release/usher}
redis_bin=${REDIS_SERVER:-redis-server}
rush=$root/target/release/ticket_rush
[ -x "$usher_bin" ] || { echo "no usher binary at $usher_bin" >&2; exit 1; }
[ -x "$rush" ] || { echo "no ticket_rush binary at $rush" >&2; exit 1; }
command -v "$redis_bin" >/dev/null || { echo "redis-server not found" >&2; exit 1; }
command -v redis-cli >/dev/null || { echo "redis-cli not found" >&2; exit 1; }
mkdir -p "$results"

. "$root/bench/scripts/lib.sh"

server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT

# start_server usher|redis THREADS: sets server_pid and port.
start_server() {
  port=$(free_port)
  if [ "$1" = usher ]; then
    usher_threads_args "$2"
    "$usher_bin" --port "$port" "${THREADS_ARGS[@]}" --save "" --appendonly no --loglevel warning >/dev/null 2>&1 &
  else
    "$redis_bin" --port "$port" --save "" --appendonly no --loglevel warning >/dev/null 2>&1 &
  fi
  server_pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "server $1 did not start" >&2; exit 1
}
stop_server() { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=""; }

# Configurations: label server threads mode poll.
configs=()
if [[ " $servers " == *" redis "* ]]; then
  configs+=("redis/script redis 1 script default")
  [ "$lean" = 1 ] || configs+=("redis/zrank redis 1 script zrank")
fi
if [[ " $servers " == *" usher "* ]]; then
  # Which optional commands does this usher build have?
  start_server usher 1
  has() { [ -n "$(redis-cli -p "$port" COMMAND INFO "$1" | head -1)" ]; }
  has_seatlock=0; has seatlock && has_seatlock=1
  has_evalsha=0; has evalsha && has_evalsha=1
  stop_server
  if [ "$has_seatlock" = 0 ] && [[ "$mix" != *seat=0* ]]; then
    mix=$(echo "$mix" | sed -E 's/seat=[0-9]+/seat=0/')
    echo "NOTE: this usher has no SEATLOCK: both sides run without seat locks (mix $mix)." >&2
    echo "      Rerun once SEATLOCK exists to measure the full mix." >&2
  fi
  for t in $threads_list; do configs+=("usher-t$t/native usher $t native default"); done
  # usher running the very same scripts separates what the engine buys from what going native buys.
  if [ "$has_evalsha" = 1 ] && [ "$lean" = 0 ]; then configs+=("usher-t1/script usher 1 script default"); fi
fi
[ ${#configs[@]} -gt 0 ] || { echo "--servers: redis and/or usher" >&2; exit 2; }

run_id=$(date -u +%Y%m%dT%H%M%SZ)
raw="$results/ticket_rush.$run_id.tmp"
: > "$raw"
echo "run $run_id: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), mix $mix" >&2
for rep in $(seq "$runs"); do
  for c in "${configs[@]}"; do
    read -r label server threads mode poll <<< "$c"
    for p in $pipelines; do
      start_server "$server" "$threads"
      echo "[$rep/$runs] $label P=$p (port $port)" >&2
      "$rush" --port "$port" --server-pid "$server_pid" --mode "$mode" --poll "$poll" \
        --conns "$conns" --pipeline "$p" --waiting "$waiting" --duration "$duration" \
        --mix "$mix" --label "$label" --seed "$rep" --csv "$raw" --quiet | grep -v '^csv:' >&2
      stop_server
    done
  done
done

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
python3 - "$raw" "$results" "$run_id" "$commit" "$(nproc)" <<'EOF'
import csv, os, statistics, sys
raw, results, run_id, commit, cores = sys.argv[1:6]
rows = list(csv.DictReader(open(raw)))
if not rows:
    sys.exit("no runs recorded")
def append(path, new_rows):
    """Appends rows to a CSV; if they bring columns the file lacks (a newer generator, e.g.
    the confirm operation's), the file is rewritten once with the union of columns."""
    fields = list(new_rows[0].keys())
    old = []
    if os.path.exists(path) and os.path.getsize(path) > 0:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            have = list(reader.fieldnames or [])
            if [k for k in fields if k not in have]:
                old = list(reader)
            fields = have + [k for k in fields if k not in have]
    if old:
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, restval="")
            w.writeheader()
            w.writerows(old)
    fresh = not os.path.exists(path) or os.path.getsize(path) == 0
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, restval="")
        if fresh:
            w.writeheader()
        w.writerows(new_rows)

# Every run, appended to the history.
append(os.path.join(results, "ticket_rush.csv"),
       [{"run_id": run_id, "commit": commit, **r} for r in rows])
# Medians per (label, pipeline), of per-run figures (CPU per operation included).
text = ("label", "mode", "poll", "mix", "unix_s")
groups = {}
for r in rows:
    for part in ("user", "sys"):
        v = r[f"server_{part}_s"]
        r[f"server_{part}_us_per_op"] = f"{1e6 * float(v) / float(r['ops']):.2f}" if v else ""
    groups.setdefault((r["label"], int(r["pipeline"])), []).append(r)
summary = []
for (label, p), rs in groups.items():
    m = {"run_id": run_id, "commit": commit, "cores": cores, "label": label, "pipeline": p,
         "runs": len(rs), "mode": rs[0]["mode"], "poll": rs[0]["poll"], "mix": rs[0]["mix"]}
    for k in rs[0]:
        if k in text or k in m:
            continue
        vals = [float(r[k]) for r in rs if r[k] != ""]
        if k.endswith("errors"):
            m[k] = sum(vals)  # every run must be clean, so errors add up rather than median
        else:
            m[k] = round(statistics.median(vals), 2) if vals else ""
    summary.append(m)
order = {"redis/script": 0, "redis/zrank": 1}
summary.sort(key=lambda m: (m["pipeline"], order.get(m["label"], 2), m["label"]))
append(os.path.join(results, "ticket_rush_summary.csv"), summary)

def fmt(v, digits=0):
    return "" if v == "" else f"{v:,.{digits}f}"

print(f"\nTicket rush {run_id} (commit {commit}, {cores} cores), medians of {summary[0]['runs']} runs, mix {summary[0]['mix']}\n")
print("| P | server / commands | ops/s | server CPU (cores) | ops per server-CPU-s | server CPU µs/op (user + kernel) | p50 µs | p99 µs | p99 join | p99 poll | p99 seat | p99 admit | p99 confirm | errors |")
print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for m in summary:
    cpu = m["server_cpu_s"]
    cores_used = cpu / m["wall_s"] if cpu else ""
    per_op = (f"{m['server_user_us_per_op']:.1f} + {m['server_sys_us_per_op']:.1f}" if cpu else "")
    print(f"| {m['pipeline']} | {m['label']} | {fmt(m['ops_s'])} | {fmt(cores_used, 2)} | "
          f"{fmt(m['ops_per_server_cpu_s'])} | {per_op} | {fmt(m['p50_us'])} | {fmt(m['p99_us'])} | "
          f"{fmt(m['join_p99_us'])} | {fmt(m['poll_p99_us'])} | {fmt(m['seat_p99_us'])} | "
          f"{fmt(m['admit_p99_us'])} | {fmt(m.get('confirm_p99_us', ''))} | {int(m['errors'])} |")
if not any(m["label"].endswith("/native") for m in summary):
    sys.exit(0)
print("\nRatios, usher native over Redis (throughput and ops per server-CPU-second: higher is better"
      " for usher; p99: Redis's p99 divided by usher's, higher is better for usher):\n")
print("| P | usher | vs | throughput | ops per server-CPU-s | p99 |")
print("|---:|---|---|---:|---:|---:|")
by = {(m["label"], m["pipeline"]): m for m in summary}
for m in summary:
    if not m["label"].endswith("/native"):
        continue
    for base in ("redis/script", "redis/zrank"):
        b = by.get((base, m["pipeline"]))
        if not b:
            continue
        r = lambda k: m[k] / b[k] if m[k] and b[k] else float("nan")
        p99 = b["p99_us"] / m["p99_us"] if m["p99_us"] else float("nan")
        print(f"| {m['pipeline']} | {m['label']} | {base} | {r('ops_s'):.2f}× | "
              f"{r('ops_per_server_cpu_s'):.2f}× | {p99:.2f}× |")
EOF
rm -f "$raw"

if [ "$plot" = 1 ]; then
  python3 "$root/bench/scripts/plot_ticket_rush.py" "$results/ticket_rush_summary.csv" \
    --run "$run_id" --out "$root/docs/img/ticket_rush.png"
fi
