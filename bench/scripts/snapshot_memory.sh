#!/usr/bin/env bash
# What a snapshot of a big waiting line costs in memory while it runs (issue 10: at most 10%
# extra for a 10-million-member line), usher against redis-server 7.0.15.
#
# Each server gets the same line (bench/scripts/line_gen.py through redis-cli --pipe), then a
# BGSAVE; the server's resident memory is sampled every 5 ms from /proc until the save ends.
# For usher, whose snapshot is fork-less (shard by shard, streamed through a 1 MB buffer), the
# figure is its own RSS growth. For Redis, whose BGSAVE forks, the figure is the child's
# copy-on-write (`rdb_last_cow_size`, what the fork duplicated: the real extra memory) and the
# child's RSS as /proc shows it (pages shared with the parent included, so not extra memory).
#
# Usage: bench/scripts/snapshot_memory.sh [users, default 10000000] [--servers "usher redis"]
# Env:   USHER_BIN (default target/release/usher), REDIS_SERVER (default redis-server)
set -euo pipefail
users=10000000
servers="usher redis"
while [ $# -gt 0 ]; do
  case "$1" in
    --servers) servers="$2"; shift 2 ;;
    *) users="$1"; shift ;;
  esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
usher_bin=${USHER_BIN:-$root/target/release/usher}
redis_bin=${REDIS_SERVER:-redis-server}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$root/bench/scripts/lib.sh"
info() { redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v f="$3" '$1 == f {print $2}'; }

echo "==> generating a line of $users users"
python3 "$root/bench/scripts/line_gen.py" "$users" "queue:{concert}" >"$work/line.resp"

for server in $servers; do
  port=$(free_port)
  dir="$work/$server"
  mkdir -p "$dir"
  if [ "$server" = usher ]; then
    "$usher_bin" --port "$port" --dir "$dir" --save "" --appendonly no --loglevel warning &
  else
    "$redis_bin" --port "$port" --dir "$dir" --save "" --appendonly no --loglevel warning >/dev/null &
  fi
  pid=$!
  for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  echo "==> $server: loading the line"
  redis-cli -p "$port" --pipe <"$work/line.resp" | tail -1
  sleep 1
  before=$(rss_kb "$pid")
  used=$(info "$port" memory used_memory)
  echo "==> $server: BGSAVE (RSS before: $((before / 1024)) MiB, used_memory $((used / 1048576)) MiB)"
  start=$(date +%s.%N)
  redis-cli -p "$port" bgsave >/dev/null
  peak=$before
  child_peak=0
  while :; do
    now=$(rss_kb "$pid")
    [ "${now:-0}" -gt "$peak" ] && peak=$now
    if [ "$server" = redis ]; then
      for child in $(pgrep -P "$pid" 2>/dev/null); do
        c=$(rss_kb "$child")
        c=${c:-0} # the child may be gone between pgrep and the read
        [ "$c" -gt "$child_peak" ] && child_peak=$c
      done
    fi
    [ "$(info "$port" persistence rdb_bgsave_in_progress)" = 0 ] && break
    sleep 0.005
  done
  took=$(echo "$(date +%s.%N) - $start" | bc)
  status=$(info "$port" persistence rdb_last_bgsave_status)
  extra=$((peak - before))
  line="$server users=$users bgsave_s=$(printf %.2f "$took") status=$status rss_before_mib=$((before / 1024)) rss_peak_mib=$((peak / 1024)) extra_mib=$((extra / 1024)) extra_pct=$(echo "scale=1; 100 * $extra / $before" | bc)"
  if [ "$server" = redis ]; then
    cow=$(info "$port" persistence rdb_last_cow_size)
    line="$line cow_mib=$((cow / 1048576)) cow_pct=$(echo "scale=1; 100 * $cow / ($before * 1024)" | bc) child_rss_peak_mib=$((child_peak / 1024))"
  fi
  echo "$line"
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait "$pid" 2>/dev/null || true
done
