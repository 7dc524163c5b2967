#!/usr/bin/env bash
# Server CPU for the same redis-benchmark run against several servers already running, in
# interleaved rounds: utime+stime ticks of each server's process (/proc/<pid>/stat) around each
# run, then the average per server. For A/B comparisons of two builds (or usher and Redis) on a
# noisy machine: start each on its own port first, with --save "" so no snapshot runs.
#
# Usage: bench/scripts/cpu_ab.sh "<redis-benchmark args>" ROUNDS PORT...
# Example (scripts loaded on every port first):
#   bench/scripts/cpu_ab.sh "-c 50 -P 16 -n 1000000 -r 10000000 ENTER q:{b} a:{b} u:__rand_int__" 4 7001 7002
set -euo pipefail
args="$1"; rounds=$2; shift 2
declare -A total
for r in $(seq "$rounds"); do
  for port in "$@"; do
    pid=$(ss -ltnpH "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
    a=($(awk '{print $14, $15}' /proc/$pid/stat))
    # shellcheck disable=SC2086 # the benchmark's arguments are meant to split
    out=$(redis-benchmark -p "$port" -q $args 2>/dev/null | tr '\r' '\n' | grep "requests per second" | tail -1)
    b=($(awk '{print $14, $15}' /proc/$pid/stat))
    rps=$(echo "$out" | grep -o "[0-9.]* requests per second" | cut -d' ' -f1)
    ticks=$(( (b[0]-a[0]) + (b[1]-a[1]) ))
    total[$port]=$(( ${total[$port]:-0} + ticks ))
    echo "round $r port $port rps $rps ticks $ticks (user $((b[0]-a[0])) sys $((b[1]-a[1])))"
  done
done
for port in "$@"; do
  echo "port $port average ticks $(echo "scale=1; ${total[$port]} / $rounds" | bc)"
done
