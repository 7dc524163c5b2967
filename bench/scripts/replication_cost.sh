#!/usr/bin/env bash
# What one attached replica costs the primary: redis-benchmark against a primary with no
# replica and with one replica following it, for usher (`--threads 1` and the default thread
# count, a usher replica) and, for reference, redis-server (a redis-server replica), all in one
# run. Reports the primary's ops/s and ops per primary-CPU-second (utime + stime of the
# primary's process from /proc/<pid>/stat) and the with/without ratios, median of the rounds.
#
# Workloads (50 clients, -P 1 and -P 16):
#   set    SET key:__rand_int__ (-r 1000000)
#   enter  a waiting-room arrival: usher's ENTER queue:{b} active:{b} user:__rand_int__;
#          redis-server runs the same thing as EVALSHA of tests/scripts/enter_native.lua
#          (-r 10000000, so nearly every arrival is new and writes)
#
# Each measurement starts fresh servers (and, with a replica, waits for its link to be up).
# After each benchmark the primary's CPU is read once the replica has applied everything
# (its slave_repl_offset reached the primary's master_repl_offset), so the primary's sending
# is counted in full. Rounds alternate which mode runs first.
#
# Usage: bench/scripts/replication_cost.sh [--rounds 3] [--n1 100000] [--n16 500000]
#                                          [--configs "usher-t1 usher redis"]
#                                          [--tests "set enter"] [--out file.csv]
#                                          [--baseline BIN] [--pin]
# --baseline adds configs "base-t1" and "base": an older usher build, measured in the same
# rounds, for before/after numbers under the same load.
# --pin runs the primary alone on CPU 0 and the replica (at nice 19) and redis-benchmark on
# CPU 1 (taskset), in both modes: the primary's CPU-seconds are then its own work, not the cost of
# being switched out for a replica that, on a production deployment, runs on another machine.
# Two CPUs at least.
# Env:   USHER_BIN (default target/release/usher), REDIS_SERVER (default redis-server)
set -euo pipefail

rounds=3
n1=100000
n16=500000
configs="usher-t1 usher redis"
tests="set enter"
out=""
baseline=""
pin=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --n1) n1="$2"; shift 2 ;;
    --n16) n16="$2"; shift 2 ;;
    --configs) configs="$2"; shift 2 ;;
    --tests) tests="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --baseline) baseline="$2"; configs="$configs base-t1 base"; shift 2 ;;
    --pin) pin=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
usher_bin=${USHER_BIN:-$root/target/release/usher}
redis_bin=${REDIS_SERVER:-redis-server}
[ -x "$usher_bin" ] || { echo "build usher first: cargo build --release" >&2; exit 1; }
command -v redis-benchmark >/dev/null || { echo "redis-benchmark not found" >&2; exit 1; }

. "$root/bench/scripts/lib.sh"
# on_cpu primary|replica|other CMD...: execs CMD, pinned with --pin. Only ever in a subshell (`&`,
# `$(...)`): the exec keeps `$!` the server's own pid, whose CPU time is read.
on_cpu() {
  local where=$1; shift
  if [ "$pin" = 1 ]; then
    case "$where" in
      primary) exec taskset -c 0 "$@" ;;
      # The replica yields its CPU to the client: sharing it evenly would slow the client,
      # and a slower client sends the primary smaller batches, which cost more per request.
      replica) exec nice -n 19 taskset -c 1 "$@" ;;
      *) exec taskset -c 1 "$@" ;;
    esac
  else
    exec "$@"
  fi
}
if [ "$pin" = 1 ] && [ "$(nproc)" -lt 2 ]; then echo "--pin needs two CPUs" >&2; exit 1; fi
hz=$(getconf CLK_TCK)
info_field() { # port field
  { redis-cli -p "$1" info replication 2>/dev/null || true; } | tr -d '\r' | awk -F: -v f="$2" '$1==f {print $2}'
}

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
raw="$work/raw.csv"
: >"$raw"

wait_ready() { # port
  for _ in $(seq 200); do
    [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.05
  done
  echo "server on port $1 did not start" >&2; exit 1
}

start() { # kind(usher|base|redis) port dir threads(empty: default) [primary-port] -> echoes pid
  local kind=$1 port=$2 dir=$3 threads=$4 primary=${5:-} bin=$usher_bin where=primary
  [ -n "$primary" ] && where=replica
  mkdir -p "$dir"
  [ "$kind" = base ] && bin=$baseline
  if [ "$kind" != redis ]; then
    local args=(--port "$port" --save "" --appendonly no --loglevel warning --dir "$dir")
    [ -n "$threads" ] && args+=(--threads "$threads")
    [ -n "$primary" ] && args+=(--replicaof 127.0.0.1 "$primary")
    on_cpu "$where" "$bin" "${args[@]}" >"$dir/log" 2>&1 &
  else
    local args=(--port "$port" --save "" --appendonly no --loglevel warning --dir "$dir"
      --repl-diskless-sync-delay 0)
    [ -n "$primary" ] && args+=(--replicaof 127.0.0.1 "$primary")
    on_cpu "$where" "$redis_bin" "${args[@]}" >"$dir/log" 2>&1 &
  fi
  echo $!
}

# Waits until the replica on `rport` has applied everything the primary on `pport` has.
wait_caught_up() { # pport rport
  local want got
  for _ in $(seq 600); do
    want=$(info_field "$1" master_repl_offset)
    got=$(info_field "$2" slave_repl_offset)
    [ -n "$want" ] && [ "$want" = "$got" ] && return 0
    sleep 0.05
  done
  echo "  (replica did not catch up: primary $want, replica $got)" >&2
}

enter_sha=""
bench() { # cfg port test P n -> echoes rps
  local cfg=$1 port=$2 t=$3 p=$4 n=$5 line
  local common=(-p "$port" -q -c 50 -P "$p" -n "$n")
  case "$t" in
    set) line=$(on_cpu other redis-benchmark "${common[@]}" -r 1000000 -t set 2>/dev/null) ;;
    enter)
      if [ "$cfg" = redis ]; then
        line=$(on_cpu other redis-benchmark "${common[@]}" -r 10000000 EVALSHA "$enter_sha" 2 'queue:{b}' \
          'active:{b}' 'user:__rand_int__' 1795000000000 2>/dev/null)
      else
        line=$(on_cpu other redis-benchmark "${common[@]}" -r 10000000 ENTER 'queue:{b}' 'active:{b}' \
          'user:__rand_int__' 2>/dev/null)
      fi ;;
  esac
  echo "$line" | tr '\r' '\n' | grep 'requests per second' | tail -1 |
    sed -E 's/.*: ([0-9.]+) requests per second.*/\1/'
}

one() { # round cfg mode(none|replica)
  local round=$1 cfg=$2 mode=$3 kind threads="" pport rport ppid rpid=""
  case "$cfg" in redis) kind=redis ;; base*) kind=base ;; *) kind=usher ;; esac
  case "$cfg" in *-t1) threads=1 ;; esac
  pport=$(free_port)
  ppid=$(start "$kind" "$pport" "$work/$cfg-$mode-$round-p" "$threads")
  pids+=("$ppid")
  wait_ready "$pport"
  if [ "$mode" = replica ]; then
    rport=$(free_port)
    rpid=$(start "$kind" "$rport" "$work/$cfg-$mode-$round-r" "$threads" "$pport")
    pids+=("$rpid")
    wait_ready "$rport"
    for _ in $(seq 400); do
      [ "$(info_field "$rport" master_link_status)" = up ] && break
      sleep 0.05
    done
    [ "$(info_field "$rport" master_link_status)" = up ] ||
      { echo "replica of $cfg never came up" >&2; exit 1; }
  fi
  if [ "$cfg" = redis ]; then
    enter_sha=$(redis-cli -p "$pport" script load "$(cat "$root/tests/scripts/enter_native.lua")")
  fi
  for t in $tests; do
    for p in 1 16; do
      local n=$n1; [ "$p" = 16 ] && n=$n16
      local before after rbefore=0 rafter=0 rps secs
      before=$(cpu_ticks "$ppid")
      [ -n "$rpid" ] && rbefore=$(cpu_ticks "$rpid")
      rps=$(bench "$cfg" "$pport" "$t" "$p" "$n")
      [ -n "$rpid" ] && wait_caught_up "$pport" "$rport"
      after=$(cpu_ticks "$ppid")
      [ -n "$rpid" ] && rafter=$(cpu_ticks "$rpid")
      secs=$(python3 -c "print(max(($after-$before)/$hz, 1/$hz))")
      local per_cpu rsecs
      per_cpu=$(python3 -c "print(round($n/$secs))")
      rsecs=$(python3 -c "print(($rafter-$rbefore)/$hz)")
      echo "$round,$cfg,$mode,$t,$p,$n,$rps,$per_cpu,$secs,$rsecs" >>"$raw"
      printf '  round %s %-9s %-7s %-5s P=%-2s %10s ops/s %10s ops/primary-CPU-s (replica CPU %s s)\n' \
        "$round" "$cfg" "$mode" "$t" "$p" "$rps" "$per_cpu" "$rsecs"
    done
  done
  stop "$ppid" $rpid
}

stop() { # pids: each is sent SIGTERM and waited for (they are not this shell's children)
  kill "$@" 2>/dev/null || true
  for pid in "$@"; do
    for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  done
}

echo "replication cost: $rounds rounds, configs: $configs, tests: $tests, -n $n1 (P1) / $n16 (P16), pinned: $pin"
for round in $(seq "$rounds"); do
  if [ $((round % 2)) = 1 ]; then modes="none replica"; else modes="replica none"; fi
  for cfg in $configs; do
    for mode in $modes; do
      echo "round $round: $cfg, $mode"
      one "$round" "$cfg" "$mode"
    done
  done
done

[ -n "$out" ] && { echo "round,config,mode,test,pipeline,requests,ops_per_s,ops_per_primary_cpu_s,primary_cpu_s,replica_cpu_s"; cat "$raw"; } >"$out"

python3 - "$raw" <<'PY'
import csv, statistics, sys
rows = list(csv.reader(open(sys.argv[1])))
med = {}
for key in {(r[1], r[3], r[4], r[2]) for r in rows}:
    sel = [r for r in rows if (r[1], r[3], r[4], r[2]) == key]
    med[key] = (statistics.median(float(r[6]) for r in sel),
                statistics.median(float(r[7]) for r in sel), len(sel))
print()
print("medians; ratio = with replica / without")
hdr = f"{'config':<9} {'test':<6} {'P':>2} {'ops/s none':>11} {'ops/s repl':>11} {'ratio':>6} {'CPU-s none':>11} {'CPU-s repl':>11} {'ratio':>6}"
print(hdr.replace('CPU-s', 'op/CPU'))
order = []
for r in rows:
    k = (r[1], r[3], r[4])
    if k not in order:
        order.append(k)
for cfg, t, p in order:
    a, b = med.get((cfg, t, p, 'none')), med.get((cfg, t, p, 'replica'))
    if not a or not b:
        continue
    print(f"{cfg:<9} {t:<6} {p:>2} {a[0]:>11,.0f} {b[0]:>11,.0f} {b[0]/a[0]:>6.2f} {a[1]:>11,.0f} {b[1]:>11,.0f} {b[1]/a[1]:>6.2f}")
PY
