#!/usr/bin/env bash
# io_uring against epoll (issue 17): server CPU per request of the minimal RESP server
# bench/src/bin/io_mechanism.rs in its epoll modes (`epoll`: tokio; `epoll-raw`: a hand-written
# epoll loop) and its io_uring modes (`uring`, `uring-defer`, `uring-multi`: see the binary's
# doc), with redis-server beside them, under redis-benchmark.
#
# The servers start once, each on its own port, and stay up; every workload then runs against
# each server in interleaved rounds (the server order rotates from round to round). Per run:
# redis-benchmark's ops/s (its --csv figure; `-t ping` is two tests, PING_INLINE and PING_MBULK,
# of -n requests each, combined as total requests over total time), the server's user and
# system CPU from /proc/<pid>/stat (utime, stime) before and after, and redis-benchmark's own
# CPU (getrusage of the child). The table gives the median of the rounds for each figure, and
# the ratio of each server's ops per server-CPU-second to the `epoll` mode's (tokio's).
#
# Then, unless --no-strace, one run per server under `strace -c -f -p PID`: --strace-requests
# PING_MBULKs at -c 50 -P 1, syscalls by count per request. With --perf, one more such run per
# server under `perf record -e cpu-clock -c 50000` (a sample per 50 µs of server CPU), its
# samples sorted by function into rough groups (syscall entry and fd lookup, epoll, io_uring,
# TCP/IP, slab, scheduler, user), in µs per request: where the server's time goes.
#
# Usage: bench/scripts/io_mechanism.sh [--rounds 3] [--requests 200000]
#          [--pipelined-requests 2000000] [--c1-requests 100000] [--strace-requests 100000]
#          [--modes "epoll epoll-raw uring uring-defer uring-multi"] [--no-redis]
#          [--no-strace] [--perf] [--no-build] [--out raw.csv] [--pin SERVER_CPU,CLIENT_CPU]
# Env: REDIS_SERVER (default redis-server). Progress goes to stderr, the Markdown tables to
# stdout.
#
# By default nothing is pinned, and on a small VM that makes the figures bimodal: when the
# scheduler puts redis-benchmark and the server on the same vCPU, a request's wake-ups stay on
# that vCPU; on two vCPUs every wake-up is a cross-vCPU one (an IPI, a halted vCPU woken by the
# hypervisor), which on the 2-vCPU machine of docs/benchmarks.md doubles the server's CPU per
# request at -P 1, for every server alike. `--pin S,C` runs the servers on CPU S and
# redis-benchmark on CPU C (`--pin 0,0`: one vCPU; `--pin 1,0`: two) to measure each case apart.
set -euo pipefail

rounds=3
requests=200000
pipelined_requests=2000000
c1_requests=100000
strace_requests=100000
modes="epoll epoll-raw uring uring-defer uring-multi"
with_redis=1
with_strace=1
with_perf=0
build=1
pin=""
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    --pipelined-requests) pipelined_requests="$2"; shift 2 ;;
    --c1-requests) c1_requests="$2"; shift 2 ;;
    --strace-requests) strace_requests="$2"; shift 2 ;;
    --modes) modes="$2"; shift 2 ;;
    --no-redis) with_redis=0; shift ;;
    --no-strace) with_strace=0; shift ;;
    --perf) with_perf=1; shift ;;
    --no-build) build=0; shift ;;
    --pin) pin="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/target/release/io_mechanism
redis_bin=${REDIS_SERVER:-redis-server}
command -v redis-benchmark >/dev/null ||
  { echo "redis-benchmark not found (apt-get install redis-tools)" >&2; exit 1; }
if [ "$with_strace" = 1 ] && ! command -v strace >/dev/null; then
  echo "strace not found (apt-get install strace), or pass --no-strace" >&2; exit 1
fi
if [ "$with_perf" = 1 ] && ! command -v perf >/dev/null; then
  echo "perf not found (apt-get install linux-perf), or leave out --perf" >&2; exit 1
fi
if [ "$build" = 1 ]; then
  echo "building io_mechanism ..." >&2
  (cd "$root" && cargo build --release -q -p usher-bench --bin io_mechanism) >&2
fi
[ -x "$bin" ] || { echo "missing $bin" >&2; exit 1; }

. "$root/bench/scripts/lib.sh"
hz=$(getconf CLK_TCK)
dir=$(mktemp -d "${TMPDIR:-/tmp}/io_mechanism.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

# redis-benchmark with its arguments, writing "user_s sys_s" of its CPU to the file $1.
cat >"$dir/rusage.py" <<'EOF'
import resource, subprocess, sys
rc = subprocess.run(sys.argv[2:]).returncode
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write(f"{r.ru_utime} {r.ru_stime}\n")
sys.exit(rc)
EOF

# taskset prefixes (empty unless --pin).
server_pin=(); client_pin=()
if [ -n "$pin" ]; then
  server_pin=(taskset -c "${pin%,*}"); client_pin=(taskset -c "${pin#*,}")
fi
declare -A port pid
servers=()
for m in $modes; do servers+=("$m"); done
[ "$with_redis" = 1 ] && servers+=(redis)
for s in "${servers[@]}"; do
  port[$s]=$(free_port)
  if [ "$s" = redis ]; then
    "${server_pin[@]}" "$redis_bin" --port "${port[$s]}" --bind 127.0.0.1 --save "" \
      --appendonly no --dir "$dir" --loglevel warning >"$dir/$s.log" 2>&1 &
  else
    "${server_pin[@]}" "$bin" --port "${port[$s]}" --mode "$s" >"$dir/$s.log" 2>&1 &
  fi
  pid[$s]=$!
  pids+=("${pid[$s]}")
done
for s in "${servers[@]}"; do
  for _ in $(seq 1 100); do
    redis-cli -p "${port[$s]}" ping 2>/dev/null | grep -q PONG && break; sleep 0.1
  done
  redis-cli -p "${port[$s]}" ping 2>/dev/null | grep -q PONG ||
    { echo "$s did not start:"; cat "$dir/$s.log"; exit 1; } >&2
  echo "$s: pid ${pid[$s]}, port ${port[$s]}" >&2
done

# name|redis-benchmark options|requests per test
workloads=(
  "ping -c 50 -P 1|-t ping -c 50 -P 1|$requests"
  "set -c 50 -P 1|-t set -c 50 -P 1|$requests"
  "ping -c 50 -P 16|-t ping -c 50 -P 16|$pipelined_requests"
  "ping -c 1 -P 1|-t ping -c 1 -P 1|$c1_requests"
)

load_before=$(cat /proc/loadavg)
echo "load average before: $load_before" >&2
raw=$dir/raw.csv
echo "round,workload,server,tests,requests,bench_s,user_ticks,sys_ticks,client_user_s," \
  "client_sys_s,busy_ticks,steal_ticks" | tr -d ' ' >"$raw"
# Whole-machine busy and steal ticks so far (/proc/stat: user nice system irq softirq; steal).
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8, $9}' /proc/stat; }
n_servers=${#servers[@]}
for r in $(seq 1 "$rounds"); do
  for w in "${workloads[@]}"; do
    IFS='|' read -r name opts n <<<"$w"
    for i in $(seq 0 $((n_servers - 1))); do
      s=${servers[$(((i + r - 1) % n_servers))]}
      read -r u0 s0 < <(awk '{print $14, $15}' "/proc/${pid[$s]}/stat")
      read -r b0 st0 < <(machine_ticks)
      # shellcheck disable=SC2086
      python3 "$dir/rusage.py" "$dir/client" "${client_pin[@]}" redis-benchmark \
        -p "${port[$s]}" -n "$n" --csv $opts >"$dir/out.csv" 2>"$dir/err"
      read -r u1 s1 < <(awk '{print $14, $15}' "/proc/${pid[$s]}/stat")
      read -r b1 st1 < <(machine_ticks)
      if grep -qiv '^$' "$dir/err"; then
        echo "redis-benchmark against $s said:" >&2; cat "$dir/err" >&2
      fi
      read -r cu cs <"$dir/client"
      # Tests, their requests and their time (requests / ops/s, summed over the tests).
      read -r tests total secs < <(python3 -c '
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1]))]
n = int(sys.argv[2])
print(len(rows), n * len(rows), sum(n / float(r["rps"]) for r in rows))' "$dir/out.csv" "$n")
      line="$r,$name,$s,$tests,$total,$secs,$((u1 - u0)),$((s1 - s0)),$cu,$cs"
      echo "$line,$((b1 - b0)),$((st1 - st0))" >>"$raw"
      python3 -c "print(f'round $r/$rounds  $name  $s: {$total / $secs:,.0f} ops/s,' \
        f' {($u1 - $u0 + $s1 - $s0) * 1e6 / $hz / $total:.2f} µs server CPU/request')" >&2
    done
  done
done
load_after=$(cat /proc/loadavg)
echo "load average after: $load_after" >&2
[ -n "$out" ] && cp "$raw" "$out"

placement="not pinned"
[ -n "$pin" ] && placement="servers on CPU ${pin%,*}, redis-benchmark on CPU ${pin#*,}"
echo "## io_uring vs epoll, minimal RESP server ($(nproc) CPUs, kernel $(uname -r), $placement)"
echo
echo "Medians of $rounds interleaved rounds; -n $requests per test at -P 1 -c 50," \
  "$pipelined_requests at -P 16, $c1_requests at -c 1. Machine busy: all the CPU time used on" \
  "the machine during the run (server, redis-benchmark, anything else) per request; steal:" \
  "time the hypervisor gave to others (both from /proc/stat)."
echo "Load average before: $load_before; after: $load_after."
echo
python3 - "$raw" "$hz" "$rounds" <<'EOF'
import csv, statistics, sys
raw, hz, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = list(csv.DictReader(open(raw)))
order_w, order_s = [], []
for r in rows:
    if r["workload"] not in order_w: order_w.append(r["workload"])
    if r["server"] not in order_s: order_s.append(r["server"])
def figures(r):
    n = int(r["requests"])
    user = int(r["user_ticks"]) / hz
    sys_ = int(r["sys_ticks"]) / hz
    cpu = user + sys_
    return {
        "ops": n / float(r["bench_s"]),
        "user": user * 1e6 / n,
        "sys": sys_ * 1e6 / n,
        "cpu": cpu * 1e6 / n,
        "per_cpu": n / cpu if cpu else float("nan"),
        "client": (float(r["client_user_s"]) + float(r["client_sys_s"])) * 1e6 / n,
        "busy": int(r["busy_ticks"]) / hz * 1e6 / n,
        "steal": int(r["steal_ticks"]) / hz * 1e6 / n,
    }
runs = {}  # (workload, server) -> {round: figures}
for r in rows:
    runs.setdefault((r["workload"], r["server"]), {})[int(r["round"])] = figures(r)
med, spread = {}, {}
for key, by_round in runs.items():
    fs = list(by_round.values())
    med[key] = {k: statistics.median(f[k] for f in fs) for k in fs[0]}
    spread[key] = (min(f["cpu"] for f in fs), max(f["cpu"] for f in fs))
print("| workload | server | ops/s | user µs/req | sys µs/req | server CPU µs/req (min-max) | ops per server-CPU-s | redis-benchmark CPU µs/req | machine busy µs/req | steal µs/req |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for w in order_w:
    for s in order_s:
        m = med[w, s]; lo, hi = spread[w, s]
        print(f"| {w} | {s} | {m['ops']:,.0f} | {m['user']:.2f} | {m['sys']:.2f} | "
              f"{m['cpu']:.2f} ({lo:.2f}-{hi:.2f}) | {m['per_cpu']:,.0f} | {m['client']:.2f} | "
              f"{m['busy']:.2f} | {m['steal']:.2f} |")
others = [s for s in order_s if s != "epoll"]
if "epoll" in order_s and others:
    # The machine's state drifts over minutes (neighbours, the host), moving every server's
    # cost together; a ratio within one round (runs a few seconds apart) cancels most of that.
    print()
    print("Ops per server-CPU-second over the epoll (tokio) mode's in the same round: median of the"
          " rounds (min-max). Higher is cheaper per request.")
    print()
    print("| workload | " + " | ".join(f"{s}/epoll" for s in others) + " |")
    print("|---|" + "---:|" * len(others))
    for w in order_w:
        cells = []
        for s in others:
            base, mine = runs[w, "epoll"], runs[w, s]
            ratios = [mine[r]["per_cpu"] / base[r]["per_cpu"] for r in base if r in mine]
            cells.append(f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")
        print(f"| {w} | " + " | ".join(cells) + " |")
EOF

if [ "$with_strace" = 1 ]; then
echo
echo "### Syscalls per request (strace -c -f, $strace_requests PING_MBULK, -c 50 -P 1)"
echo
for s in "${servers[@]}"; do
  echo "strace: $s ..." >&2
  strace -c -f -q -p "${pid[$s]}" -o "$dir/strace_$s.txt" &
  spid=$!
  sleep 1
  "${client_pin[@]}" redis-benchmark -p "${port[$s]}" -n "$strace_requests" -c 50 -P 1 \
    -t ping_mbulk -q >/dev/null 2>&1
  kill -INT "$spid"; wait "$spid" 2>/dev/null || true
done
python3 - "$dir" "$strace_requests" "${servers[@]}" <<'EOF'
import os, sys
d, n, servers = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print("| server | syscall | calls | per request | errors |")
print("|---|---|---:|---:|---:|")
for s in servers:
    rows = []
    for line in open(os.path.join(d, f"strace_{s}.txt")):
        f = line.split()
        if len(f) < 5 or not f[0][0].isdigit() or f[-1] == "total":
            continue
        # % time, seconds, usecs/call, calls, [errors], syscall
        calls = int(f[3]); errors = int(f[4]) if len(f) == 6 else 0
        rows.append((calls, f[-1], errors))
    rows.sort(reverse=True)
    total = sum(c for c, _, _ in rows)
    for calls, name, errors in rows:
        if calls * 1000 >= n:  # at least one per thousand requests
            print(f"| {s} | {name} | {calls:,} | {calls / n:.3f} | {errors:,} |")
    print(f"| {s} | all | {total:,} | {total / n:.3f} | |")
EOF
fi

[ "$with_perf" = 1 ] || exit 0
echo
echo "### Where the server's CPU goes (perf record -e cpu-clock, $strace_requests PING_MBULK, -c 50 -P 1), µs per request"
echo
for s in "${servers[@]}"; do
  echo "perf: $s ..." >&2
  perf record -q -e cpu-clock -c 50000 -p "${pid[$s]}" -o "$dir/perf_$s.data" >/dev/null 2>&1 &
  ppid=$!
  sleep 1
  "${client_pin[@]}" redis-benchmark -p "${port[$s]}" -n "$strace_requests" -c 50 -P 1 \
    -t ping_mbulk -q >/dev/null 2>&1
  kill -INT "$ppid"; wait "$ppid" 2>/dev/null || true
  perf report -i "$dir/perf_$s.data" --no-children --sort sym -n -q --stdio 2>/dev/null \
    >"$dir/perf_$s.txt" || true
done
python3 - "$dir" "$strace_requests" "${servers[@]}" <<'EOF'
import os, re, sys
d, n, servers = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
period_us = 50.0  # perf record -c 50000 on cpu-clock: one sample per 50,000 ns
# Kernel functions by name prefix, first match wins; anything else is "other kernel".
groups = [
    ("syscall entry/exit, fd lookup", r"entry_SYSCALL|do_syscall_64|syscall_|exit_to_user_mode|x64_sys_call|__x64_sys_|__sys_|fdget|fget|fput|__fget|sockfd_lookup"),
    ("epoll", r"ep_|do_epoll|__ep_|epoll"),
    # llist_ and mutex_: io_uring's task-work list and ring lock (neither is on epoll's path).
    ("io_uring", r"io_|__io_|tctx_|task_work|__task_work|llist_|mutex_"),
    ("TCP/IP, loopback, softirq", r"tcp|__tcp|ip_|__ip|inet_|__inet|sock_|__sock|sk_|__sk|skb_|__skb|kfree_skb|__kfree_skb|consume_skb|net_|__net|netif_|__netif|dev_|__dev|loopback|bbr_|napi|__napi|process_backlog|validate_xmit|_copy_to_iter|_copy_from_iter|copy_|csum|lock_sock|release_sock|__release_sock|security_sock|ipv4_|raw_local_deliver|dst_|__dst|sch_direct|__qdisc|qdisc_|pfifo|do_softirq|__do_softirq|handle_softirqs|__local_bh_enable|_raw_spin_lock_bh|_raw_spin_unlock_bh"),
    ("slab (skbs, requests)", r"kmem_cache|kmalloc|__kmalloc|kfree|__slab|___slab|slab_|memcg|obj_cgroup|mod_objcg|refill_obj|__refill"),
    ("scheduler, sleep, wake-up", r"finish_task_switch|__schedule|schedule|pick_next|pick_task|dequeue_|enqueue_|try_to_wake_up|ttwu|update_curr|update_load|psi_|set_next|put_prev|__switch_to|switch_mm|sched_|update_rq|select_task_rq|wake_up|__wake_up|autoremove_wake|default_wake|prepare_to_wait|finish_wait|read_tsc|ktime_get|hrtimer|__raw_callee_save|_raw_spin_unlock_irq|_raw_spin_lock_irq|rcu_"),
]
table = {}
for s in servers:
    path = os.path.join(d, f"perf_{s}.txt")
    if not os.path.exists(path):
        continue
    cats = {name: 0 for name, _ in groups}
    cats["other kernel"] = 0
    cats["user"] = 0
    for line in open(path):
        m = re.match(r"\s*[\d.]+%\s+(\d+)\s+\[(.)\]\s+(\S+)", line)
        if not m:
            continue
        samples, kind, sym = int(m.group(1)), m.group(2), m.group(3)
        if kind != "k":
            cats["user"] += samples
            continue
        for name, rx in groups:
            if re.match(rx, sym):
                cats[name] += samples
                break
        else:
            cats["other kernel"] += samples
    table[s] = cats
print("| group | " + " | ".join(table) + " |")
print("|---|" + "---:|" * len(table))
for g in [g for g, _ in groups] + ["other kernel", "user", "total"]:
    cells = []
    for cats in table.values():
        v = sum(cats.values()) if g == "total" else cats[g]
        cells.append(f"{v * period_us / n:.2f}")
    print(f"| {g} | " + " | ".join(cells) + " |")
EOF
