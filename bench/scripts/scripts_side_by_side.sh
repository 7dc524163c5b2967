#!/usr/bin/env bash
# EVALSHA of each seed script (tests/scripts/, copies of shared/seeds/scripts/) against usher and
# redis-server, one after the other in one run: throughput and operations per server-CPU-second
# (utime + stime from /proc/<pid>/stat around each test), with ratios. redis-benchmark sends
# the commands; __rand_int__ spreads users, seats and tokens over a 100,000-wide keyspace.
#
# Usage: bench/scripts/scripts_side_by_side.sh [-P pipeline] [-n requests] [-c clients]
#                                              [--threads N] [--runs R]
# Env:   USHER_BIN (default target/release/usher), REDIS_SERVER (default redis-server)
set -euo pipefail

pipeline=1
requests=100000
clients=50
threads=1
runs=1
while [ $# -gt 0 ]; do
  case "$1" in
    -P) pipeline="$2"; shift 2 ;;
    -n) requests="$2"; shift 2 ;;
    -c) clients="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
usher_bin=${USHER_BIN:-$root/target/release/usher}
redis_bin=${REDIS_SERVER:-redis-server}
scripts=$root/tests/scripts
[ -x "$usher_bin" ] || { echo "build usher first: cargo build --release" >&2; exit 1; }

. "$root/bench/scripts/lib.sh"
hz=$(getconf CLK_TCK)
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# name|script|numkeys and arguments (after the SHA)
workloads=(
  "seat_lock|seat_lock_with_token.lua|1 seat:__rand_int__ user:1 300"
  "payment_verify|payment_verify.lua|1 seat:__rand_int__ user:1 1"
  "consume_token|consume_token.lua|1 token:__rand_int__ 1795000000000"
  "enter_queue|enter_queue.lua|2 at:{e}:__rand_int__ queue:{e} user:__rand_int__ 1795000000000 1795000000000"
  "admission|admission_zpopmin.lua|2 queue:{e} active:{e} 10 1795000000000 300000 1000000"
  "cleanup_stale|cleanup_stale.lua|2 hb:{e} queue:{e} 0 100"
)

declare -A rps cpu
for server in redis usher; do
  port=$(free_port)
  if [ "$server" = usher ]; then
    "$usher_bin" --port "$port" --threads "$threads" --loglevel warning >/dev/null 2>&1 &
  else
    "$redis_bin" --port "$port" --save "" --appendonly no --loglevel warning >/dev/null 2>&1 &
  fi
  pid=$!; pids+=("$pid")
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  for w in "${workloads[@]}"; do
    IFS='|' read -r name file args <<<"$w"
    sha=$(redis-cli -p "$port" SCRIPT LOAD "$(cat "$scripts/$file")")
    for r in $(seq "$runs"); do
      # Seat locks and tokens expire or stay consumed: start each run from the same keys.
      redis-cli -p "$port" FLUSHALL >/dev/null
      before=$(cpu_ticks "$pid")
      # shellcheck disable=SC2086
      line=$(redis-benchmark -p "$port" -q -P "$pipeline" -n "$requests" -c "$clients" -r 100000 \
        EVALSHA "$sha" $args 2>/dev/null | tr '\r' '\n' | grep 'requests per second' | tail -1)
      after=$(cpu_ticks "$pid")
      value=$(echo "$line" | sed -E 's/.*: ([0-9.]+) requests per second.*/\1/')
      secs=$(python3 -c "print(max(($after-$before)/$hz, 1/$hz))")
      per_cpu=$(python3 -c "print(round($requests/$secs))")
      key="$server/$name"
      if [ -z "${rps[$key]:-}" ] || python3 -c "import sys; sys.exit(0 if $value > ${rps[$key]} else 1)"; then
        rps[$key]=$value; cpu[$key]=$per_cpu
      fi
    done
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
done

printf '%-15s %4s %12s %12s %7s %16s %16s %7s\n' script P redis_rps usher_rps ratio redis_ops/cpu_s usher_ops/cpu_s ratio
for w in "${workloads[@]}"; do
  name=${w%%|*}
  rr=${rps[redis/$name]}; ur=${rps[usher/$name]}; rc=${cpu[redis/$name]}; uc=${cpu[usher/$name]}
  r1=$(python3 -c "print(f'{$ur/$rr:.2f}')"); r2=$(python3 -c "print(f'{$uc/$rc:.2f}')")
  printf '%-15s %4s %12s %12s %7s %16s %16s %7s\n' "$name" "$pipeline" "$rr" "$ur" "$r1" "$rc" "$uc" "$r2"
done
