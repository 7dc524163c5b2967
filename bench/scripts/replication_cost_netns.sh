#!/usr/bin/env bash
# What one replica costs a usher primary, with the replica's network receive kept off the
# primary's CPU, as it is when the replica runs on another machine. On loopback the sender's
# softirq also runs the receiver's TCP path; here the replica runs in its own network namespace
# behind a veth pair whose receive queue steers packets to CPU 1 (RPS), so the primary (alone on
# CPU 0) pays only for sending. redis-benchmark and the replica (nice 19) share CPU 1.
#
# Each round measures the primary's CPU ticks (/proc/<pid>/stat, utime + stime) for the same
# requests with no replica and with one (read once the replica has applied everything), in
# alternating order, and prints ops per primary CPU-second and the pair's ratio.
#
# Usage (root: it creates and removes namespace `usher-repl-cost`):
#   bench/scripts/replication_cost_netns.sh [--rounds 6] [--tests "set enter"]
# Env: USHER_BIN (default target/release/usher)
set -euo pipefail
rounds=6
tests="set enter"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --tests) tests="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
usher=${USHER_BIN:-$root/target/release/usher}
[ -x "$usher" ] || { echo "build usher first: cargo build --release" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "needs two CPUs" >&2; exit 1; }
. "$root/bench/scripts/lib.sh"
ns=usher-repl-cost
hz=$(getconf CLK_TCK)
work=$(mktemp -d)
cleanup() {
  pkill -f -- "--dir $work/" 2>/dev/null || true
  ip link del ucost-p 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip link add ucost-p type veth peer name ucost-r
ip link set ucost-r netns "$ns"
ip addr add 10.77.0.1/24 dev ucost-p
ip link set ucost-p up
ip netns exec "$ns" ip addr add 10.77.0.2/24 dev ucost-r
ip netns exec "$ns" ip link set ucost-r up
ip netns exec "$ns" ip link set lo up
# Packets the primary sends to the replica are processed on CPU 1 (mask 2), not in its softirq.
ip netns exec "$ns" sh -c 'echo 2 > /sys/class/net/ucost-r/queues/rx-0/rps_cpus'

field() { # "ns"|"" port host field
  local run=(); [ -n "$1" ] && run=(ip netns exec "$ns")
  { "${run[@]}" redis-cli -h "$3" -p "$2" info replication 2>/dev/null || true; } |
    tr -d '\r' | awk -F: -v f="$4" '$1==f {print $2}'
}

one() { # mode(none|replica) test -> echoes ops per primary CPU-second
  local mode=$1 t=$2 pport rport=7399 p r="" n c0 c1
  pport=$(free_port)
  mkdir -p "$work/$mode-p" "$work/$mode-r"
  taskset -c 0 "$usher" --port "$pport" --bind 127.0.0.1 10.77.0.1 --protected-mode no \
    --save "" --appendonly no --loglevel warning --dir "$work/$mode-p/" >/dev/null 2>&1 &
  p=$!
  for _ in $(seq 100); do redis-cli -p "$pport" ping >/dev/null 2>&1 && break; sleep 0.05; done
  if [ "$mode" = replica ]; then
    ip netns exec "$ns" nice -n 19 taskset -c 1 "$usher" --port "$rport" --bind 10.77.0.2 \
      --protected-mode no --save "" --appendonly no --loglevel warning --dir "$work/$mode-r/" \
      --replicaof 10.77.0.1 "$pport" >/dev/null 2>&1 &
    r=$!
    for _ in $(seq 200); do
      [ "$(field ns "$rport" 10.77.0.2 master_link_status)" = up ] && break; sleep 0.05
    done
  fi
  c0=$(cpu_ticks "$p")
  case "$t" in
    set) n=1000000
      taskset -c 1 redis-benchmark -p "$pport" -q -c 50 -P 16 -n $n -r 1000000 -t set >/dev/null 2>&1 ;;
    enter) n=600000
      taskset -c 1 redis-benchmark -p "$pport" -q -c 50 -P 16 -n $n -r 10000000 ENTER 'queue:{b}' \
        'active:{b}' 'user:__rand_int__' >/dev/null 2>&1 ;;
  esac
  if [ -n "$r" ]; then
    for _ in $(seq 400); do
      [ "$(field "" "$pport" 127.0.0.1 master_repl_offset)" = \
        "$(field ns "$rport" 10.77.0.2 slave_repl_offset)" ] && break
      sleep 0.05
    done
  fi
  c1=$(cpu_ticks "$p")
  kill "$p" $r 2>/dev/null || true
  for pid in "$p" $r; do while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done; done
  python3 -c "print(round($n * $hz / max($c1 - $c0, 1)))"
}

echo "round,test,none,replica,ratio"
for round in $(seq "$rounds"); do
  for t in $tests; do
    if [ $((round % 2)) = 1 ]; then a=$(one none "$t"); b=$(one replica "$t")
    else b=$(one replica "$t"); a=$(one none "$t"); fi
    echo "$round,$t,$a,$b,$(python3 -c "print(round($b / $a, 2))")"
  done
done
