#!/usr/bin/env bash
# Streams, usher vs redis-server, one after the other in one run:
#  1. memory: 1,000,000 entries of a small 3-field event (`type click user u<n> page /p<n>`,
#     explicit ids, loaded with redis-cli --pipe): MEMORY USAGE of the key, used_memory and
#     RSS growth, in bytes per entry;
#  2. throughput: redis-benchmark XADD (auto ids) and XREADGROUP ... COUNT 1 STREAMS s >
#     (each call delivers one entry and adds it to the PEL) on a pre-filled stream:
#     requests per second and operations per server-CPU-second (utime + stime from
#     /proc/<pid>/stat around each test), with ratios.
#
# Usage: bench/scripts/stream_side_by_side.sh [-P pipeline] [-n requests] [-c clients]
#                                             [--entries N] [--threads N]
# Env:   USHER_BIN (default target/release/usher), REDIS_SERVER (default redis-server)
set -euo pipefail

pipeline=1
requests=200000
clients=50
entries=1000000
threads=1
while [ $# -gt 0 ]; do
  case "$1" in
    -P) pipeline="$2"; shift 2 ;;
    -n) requests="$2"; shift 2 ;;
    -c) clients="$2"; shift 2 ;;
    --entries) entries="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
usher_bin=${USHER_BIN:-$root/target/release/usher}
redis_bin=${REDIS_SERVER:-redis-server}
[ -x "$usher_bin" ] || { echo "build usher first: cargo build --release" >&2; exit 1; }

. "$root/bench/scripts/lib.sh"
rss_bytes() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }
info_field() { redis-cli -p "$1" INFO memory | tr -d '\r' | awk -F: -v f="$2" '$1 == f {print $2}'; }
hz=$(getconf CLK_TCK)
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# The RESP stream of XADDs, generated once.
proto=$(mktemp)
scratch=$(mktemp -d)
python3 - "$entries" >"$proto" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
for i in range(1, n + 1):
    args = [b"XADD", b"ev", b"%d-0" % i, b"type", b"click", b"user", b"u%d" % (i % 50000),
            b"page", b"/p%d" % (i % 997)]
    out.write(b"*%d\r\n" % len(args))
    for a in args:
        out.write(b"$%d\r\n%s\r\n" % (len(a), a))
PY

declare -A res
for server in redis usher; do
  port=$(free_port)
  if [ "$server" = usher ]; then
    "$usher_bin" --port "$port" --threads "$threads" --save "" --dir "$scratch" --loglevel warning >/dev/null 2>&1 &
  else
    "$redis_bin" --port "$port" --save "" --dir "$scratch" --appendonly no --loglevel warning >/dev/null 2>&1 &
  fi
  pid=$!; pids+=("$pid")
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done

  used0=$(info_field "$port" used_memory); rss0=$(rss_bytes "$pid")
  redis-cli -p "$port" --pipe <"$proto" >/dev/null
  used1=$(info_field "$port" used_memory); rss1=$(rss_bytes "$pid")
  usage=$(redis-cli -p "$port" MEMORY USAGE ev SAMPLES 0)
  res[$server/usage]=$(python3 -c "print(f'{$usage/$entries:.1f}')")
  res[$server/used]=$(python3 -c "print(f'{($used1-$used0)/$entries:.1f}')")
  res[$server/rss]=$(python3 -c "print(f'{($rss1-$rss0)/$entries:.1f}')")
  redis-cli -p "$port" FLUSHALL >/dev/null

  # XADD with auto ids onto one stream.
  before=$(cpu_ticks "$pid")
  line=$(redis-benchmark -p "$port" -q -P "$pipeline" -n "$requests" -c "$clients" -r 100000 \
    XADD bench '*' type click user u__rand_int__ page /p 2>/dev/null | tr '\r' '\n' | grep 'requests per second' | tail -1)
  after=$(cpu_ticks "$pid")
  res[$server/xadd_rps]=$(echo "$line" | sed -E 's/.*: ([0-9.]+) requests per second.*/\1/')
  res[$server/xadd_cpu]=$(python3 -c "print(round($requests/max(($after-$before)/$hz, 1/$hz)))")

  # XREADGROUP '>' on the stream XADD just filled (at least as many entries as requests).
  redis-cli -p "$port" XGROUP CREATE bench g 0 >/dev/null
  before=$(cpu_ticks "$pid")
  line=$(redis-benchmark -p "$port" -q -P "$pipeline" -n "$requests" -c "$clients" \
    XREADGROUP GROUP g c COUNT 1 STREAMS bench '>' 2>/dev/null | tr '\r' '\n' | grep 'requests per second' | tail -1)
  after=$(cpu_ticks "$pid")
  res[$server/read_rps]=$(echo "$line" | sed -E 's/.*: ([0-9.]+) requests per second.*/\1/')
  res[$server/read_cpu]=$(python3 -c "print(round($requests/max(($after-$before)/$hz, 1/$hz)))")
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
rm -rf "$proto" "$scratch"

echo "memory, bytes per entry ($entries entries of a 3-field event)"
printf '%-22s %10s %10s %7s\n' measure redis usher ratio
for m in usage used rss; do
  r=${res[redis/$m]}; u=${res[usher/$m]}
  printf '%-22s %10s %10s %7s\n' "$m" "$r" "$u" "$(python3 -c "print(f'{$u/$r:.2f}')")"
done
echo
printf '%-12s %4s %12s %12s %7s %16s %16s %7s\n' command P redis_rps usher_rps ratio redis_ops/cpu_s usher_ops/cpu_s ratio
for c in xadd read; do
  rr=${res[redis/${c}_rps]}; ur=${res[usher/${c}_rps]}; rc=${res[redis/${c}_cpu]}; uc=${res[usher/${c}_cpu]}
  name=$([ "$c" = xadd ] && echo XADD || echo XREADGROUP)
  printf '%-12s %4s %12s %12s %7s %16s %16s %7s\n' "$name" "$pipeline" "$rr" "$ur" \
    "$(python3 -c "print(f'{$ur/$rr:.2f}')")" "$rc" "$uc" "$(python3 -c "print(f'{$uc/$rc:.2f}')")"
done
