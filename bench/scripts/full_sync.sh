#!/usr/bin/env bash
# A full sync of a big waiting line: N users (default 10,000,000) in one sorted set on a
# primary, then a fresh replica started with --replicaof; timed from the replica's start
# until it reports master_link_status:up and loading:0 and its line's ZCARD equals the
# primary's. usher (a usher replica of a usher primary) and, for reference, redis-server
# 7.0 (a redis-server replica; Redis forks and streams the RDB) in one run.
#
# The line is loaded as redis-cli --pipe of ZADDs of 1000 members (bench/scripts/line_gen.py:
# user:<n> at ENTER's arrival scores); the load is timed too. During the sync
# bench/scripts/latency_probe.py sends PING and a write to the primary in a loop and reports
# its longest waits: the primary's stall (usher takes its image under every shard lock).
# RSS of primary and replica is sampled every poll during the sync (the peak is printed, with
# the primary's RSS before it); for redis-server also the fork child's largest RSS seen (its
# pages are mostly shared with the parent, copy-on-write). VmHWM (the lifetime peak, which for
# the primary may come from the --pipe load) is printed too.
#
# Usage: bench/scripts/full_sync.sh [--users N] [--servers "usher redis"] [--threads T]
# Env:   USHER_BIN (default target/release/usher), REDIS_SERVER (default redis-server)
set -euo pipefail
trap 'echo "full_sync.sh: failed at line $LINENO" >&2' ERR

users=10000000
servers="usher redis"
threads=""
while [ $# -gt 0 ]; do
  case "$1" in
    --users) users="$2"; shift 2 ;;
    --servers) servers="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
usher_bin=${USHER_BIN:-$root/target/release/usher}
redis_bin=${REDIS_SERVER:-redis-server}
[ -x "$usher_bin" ] || { echo "build usher first: cargo build --release" >&2; exit 1; }
key='queue:{concert}'

. "$root/bench/scripts/lib.sh"
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
field() { # port section field (empty while the server does not answer yet)
  { redis-cli -p "$1" info "$2" 2>/dev/null || true; } | tr -d '\r' | awk -F: -v f="$3" '$1==f {print $2}'
}
hwm_mb() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }
rss_mb() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$1/status" 2>/dev/null || true; }

work=$(mktemp -d)
pids=()
cleanup() {
  touch "$work/stop"
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 0.5
  rm -rf "$work"
}
trap cleanup EXIT

wait_ready() { # port: until it answers and has loaded
  for _ in $(seq 600); do
    [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && [ "$(field "$1" persistence loading)" = 0 ] && return 0
    sleep 0.05
  done
  echo "server on port $1 did not start" >&2; exit 1
}

stop() { # pid: SIGTERM, then wait until it is gone (not this shell's child)
  kill "$1" 2>/dev/null || true
  for _ in $(seq 600); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
  kill -9 "$1" 2>/dev/null || true
}

start() { # kind port dir [primary-port] -> echoes pid
  local kind=$1 port=$2 dir=$3 primary=${4:-}
  mkdir -p "$dir"
  if [ "$kind" = usher ]; then
    local args=(--port "$port" --save "" --appendonly no --dir "$dir" --logfile "$dir/log")
    [ -n "$threads" ] && args+=(--threads "$threads")
    [ -n "$primary" ] && args+=(--replicaof 127.0.0.1 "$primary")
    "$usher_bin" "${args[@]}" >/dev/null 2>&1 &
  else
    local args=(--port "$port" --save "" --appendonly no --dir "$dir" --logfile "$dir/log"
      --repl-diskless-sync-delay 0)
    [ -n "$primary" ] && args+=(--replicaof 127.0.0.1 "$primary")
    "$redis_bin" "${args[@]}" >/dev/null 2>&1 &
  fi
  echo $!
}

lines="$work/line.resp"
echo "generating $users users (ZADD batches of 1000) ..."
t=$(now)
python3 "$root/bench/scripts/line_gen.py" "$users" "$key" >"$lines"
echo "  $(stat -c %s "$lines") bytes of RESP in $(secs "$t" "$(now)") s"

for server in $servers; do
  echo
  echo "=== $server"
  pport=$(free_port)
  ppid=$(start "$server" "$pport" "$work/$server-p")
  pids+=("$ppid")
  wait_ready "$pport"
  echo "loading the line into the primary (redis-cli --pipe) ..."
  t=$(now)
  redis-cli -p "$pport" --pipe <"$lines" | tail -1 | sed 's/^/  /'
  load_s=$(secs "$t" "$(now)")
  want=$(redis-cli -p "$pport" zcard "$key")
  before_mb=$(rss_mb "$ppid")
  echo "  loaded $want users in $load_s s; primary RSS $before_mb MB"

  rm -f "$work/stop"
  python3 "$root/bench/scripts/latency_probe.py" "$pport" "$work/stop" "$server" >"$work/probe.out" 2>&1 &
  probe=$!
  sleep 1
  rport=$(free_port)
  echo "starting the replica ..."
  t0=$(now)
  rpid=$(start "$server" "$rport" "$work/$server-r" "$pport")
  pids+=("$rpid")
  child_peak=0
  ppeak=0
  rpeak=0
  last=""
  while :; do
    rss=$(rss_mb "$ppid"); if [ -n "$rss" ] && [ "$rss" -gt "$ppeak" ]; then ppeak=$rss; fi
    rss=$(rss_mb "$rpid"); if [ -n "$rss" ] && [ "$rss" -gt "$rpeak" ]; then rpeak=$rss; fi
    link=$(field "$rport" replication master_link_status)
    loading=$(field "$rport" persistence loading)
    if [ "$link" = up ] && [ "$loading" = 0 ] && [ "$(redis-cli -p "$rport" zcard "$key" 2>/dev/null)" = "$want" ]; then
      break
    fi
    if [ "$server" = redis ]; then
      for c in $(pgrep -P "$ppid" || true); do
        # The child may exit (or be a zombie, with no VmRSS) between pgrep and the read.
        rss=$(rss_mb "$c")
        if [ -n "$rss" ] && [ "$rss" -gt "$child_peak" ]; then child_peak=$rss; fi
      done
    fi
    state="link=${link:-?} loading=${loading:-?}"
    if [ "$state" != "$last" ]; then
      echo "  +$(secs "$t0" "$(now)") s: replica $state"
      last=$state
    fi
    if python3 -c "import sys; sys.exit(0 if $(now) - $t0 > 600 else 1)"; then
      echo "  gave up after 600 s" >&2; break
    fi
    sleep 0.05
  done
  sync_s=$(secs "$t0" "$(now)")
  touch "$work/stop"
  wait "$probe" 2>/dev/null || true
  echo "  full sync of $want users: $sync_s s (replica start to link up, loaded, ZCARD equal)"
  cat "$work/probe.out"
  echo "  RSS during the sync (sampled): primary $before_mb -> peak $ppeak MB, replica peak $rpeak MB"
  echo "  VmHWM (lifetime peak): primary $(hwm_mb "$ppid") MB, replica $(hwm_mb "$rpid") MB"
  [ "$server" = redis ] && echo "  redis fork child: largest RSS seen $child_peak MB"
  echo "  primary log:"
  grep -E "synchroni|BGSAVE|fork|Streamed|succeeded|asks for" "$work/$server-p/log" | sed 's/^/    /' | tail -8
  echo "  replica log:"
  grep -E "sync|MASTER|Loading|loaded|Finished|receiving|Flushing" "$work/$server-r/log" | sed 's/^/    /' | tail -10
  echo "RESULT $server users=$want load_s=$load_s sync_s=$sync_s primary_rss_mb=$before_mb primary_peak_mb=$ppeak replica_peak_mb=$rpeak"
  stop "$rpid"
  stop "$ppid"
done
