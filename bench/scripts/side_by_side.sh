#!/usr/bin/env bash
# Runs the same redis-benchmark workload against usher and redis-server, one after the other in
# one run, and prints throughput and operations per server-CPU-second for each, with ratios.
#
# Server CPU comes from /proc/<pid>/stat (utime + stime) sampled around each test, so the
# figure is "requests served per second of server CPU", comparable across a noisy machine.
#
# Usage: bench/scripts/side_by_side.sh [-t tests] [-P pipeline] [-n requests] [-c clients]
#                                      [-r keyspace] [--threads N|default] [--runs R] [--out file.csv]
# -r passes redis-benchmark's random keyspace: without it every ZADD writes the same member
# (`element:000000000000` with score 0); with it members and scores are random, so ZADD grows
# one sorted set and ZPOPMIN then drains it.
# Custom commands: --cmd name='SETBIT bm __rand_int__ 1' runs that command as test "name"
# (redis-benchmark's __rand_int__ needs -r); --preload file pipes a file of commands (RESP or
# inline, redis-cli --pipe) into each server before its tests, e.g. a geo set to search.
# Env:   USHER_BIN (default target/release/usher), REDIS_SERVER (default redis-server)
set -euo pipefail

tests="ping,set,get,incr,mset"
pipeline=1
requests=200000
clients=50
threads=1
runs=1
keyspace=""
out=""
extra_usher=()
declare -A custom
preload=""
while [ $# -gt 0 ]; do
  case "$1" in
    -t) tests="$2"; shift 2 ;;
    -P) pipeline="$2"; shift 2 ;;
    -n) requests="$2"; shift 2 ;;
    -c) clients="$2"; shift 2 ;;
    -r) keyspace="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --usher-arg) extra_usher+=("$2"); shift 2 ;;
    --cmd) custom[${2%%=*}]=${2#*=}; tests="${tests:+$tests,}${2%%=*}"; shift 2 ;;
    --preload) preload="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
usher_bin=${USHER_BIN:-$root/target/release/usher}
redis_bin=${REDIS_SERVER:-redis-server}
[ -x "$usher_bin" ] || { echo "build usher first: cargo build --release" >&2; exit 1; }
command -v redis-benchmark >/dev/null || { echo "redis-benchmark not found (apt-get install redis-tools)" >&2; exit 1; }

. "$root/bench/scripts/lib.sh"
hz=$(getconf CLK_TCK)

pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

start_server() { # name -> echoes "pid port"
  local port; port=$(free_port)
  if [ "$1" = usher ]; then
    # No snapshot at exit: a dump.rdb left behind would be loaded (-LOADING) by the next run.
    usher_threads_args "$threads"
    "$usher_bin" --port "$port" "${THREADS_ARGS[@]}" --save "" --loglevel warning "${extra_usher[@]}" >/dev/null 2>&1 &
  else
    "$redis_bin" --port "$port" --save "" --appendonly no --loglevel warning >/dev/null 2>&1 &
  fi
  local pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  echo "$pid $port"
}

declare -A rps cpu
for server in redis usher; do
  read -r pid port < <(start_server "$server")
  pids+=("$pid")
  [ -n "$preload" ] && redis-cli -p "$port" --pipe < "$preload" >/dev/null
  for t in ${tests//,/ }; do
    for r in $(seq "$runs"); do
      before=$(cpu_ticks "$pid")
      if [ -n "${custom[$t]:-}" ]; then
        # shellcheck disable=SC2086 # the custom command is split into its arguments
        line=$(redis-benchmark -p "$port" -q -P "$pipeline" -n "$requests" -c "$clients" ${keyspace:+-r "$keyspace"} ${custom[$t]} 2>/dev/null | tr '\r' '\n' | grep 'requests per second' | tail -1)
      else
        line=$(redis-benchmark -p "$port" -q -t "$t" -P "$pipeline" -n "$requests" -c "$clients" ${keyspace:+-r "$keyspace"} 2>/dev/null | tr '\r' '\n' | grep 'requests per second' | tail -1)
      fi
      after=$(cpu_ticks "$pid")
      value=$(echo "$line" | sed -E 's/.*: ([0-9.]+) requests per second.*/\1/')
      secs=$(python3 -c "print(max(($after-$before)/$hz, 1/$hz))")
      per_cpu=$(python3 -c "print(round($requests/$secs))")
      key="$server/$t"
      # Keep the best run of each (least disturbed by the noisy neighbour).
      if [ -z "${rps[$key]:-}" ] || python3 -c "import sys; sys.exit(0 if $value > ${rps[$key]} else 1)"; then
        rps[$key]=$value; cpu[$key]=$per_cpu
      fi
    done
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
done

printf '%-8s %4s %14s %14s %7s %16s %16s %7s\n' test P redis_rps usher_rps ratio redis_ops/cpu_s usher_ops/cpu_s ratio
[ -n "$out" ] && echo "test,pipeline,threads,redis_rps,usher_rps,rps_ratio,redis_ops_per_cpu_s,usher_ops_per_cpu_s,cpu_ratio" > "$out"
for t in ${tests//,/ }; do
  rr=${rps[redis/$t]}; ur=${rps[usher/$t]}; rc=${cpu[redis/$t]}; uc=${cpu[usher/$t]}
  r1=$(python3 -c "print(f'{$ur/$rr:.2f}')"); r2=$(python3 -c "print(f'{$uc/$rc:.2f}')")
  printf '%-8s %4s %14s %14s %7s %16s %16s %7s\n' "$t" "$pipeline" "$rr" "$ur" "$r1" "$rc" "$uc" "$r2"
  [ -n "$out" ] && echo "$t,$pipeline,$threads,$rr,$ur,$r1,$rc,$uc,$r2" >> "$out"
done
exit 0
