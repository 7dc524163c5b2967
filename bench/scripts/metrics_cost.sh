#!/usr/bin/env bash
# What scraping the metrics endpoint every second costs a ticket rush: usher with metrics off,
# and with --metrics-port while a loop fetches /metrics each second, in alternating rounds on
# fresh servers; prints ops per server-CPU-second of each (ticket_rush's own measure) and the
# ratio of the medians.
#
# Usage: bench/scripts/metrics_cost.sh [--runs 3] [--duration 8] [--threads 1] [--pipeline 16]
set -euo pipefail
runs=3; duration=8; threads=1; pipeline=16
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --pipeline) pipeline="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
usher=${USHER_BIN:-$root/target/release/usher}
rush="$root/target/release/ticket_rush"
[ -x "$rush" ] || cargo build --release -p usher-bench --bin ticket_rush >/dev/null
. "$root/bench/scripts/lib.sh"
csv=$(mktemp)
one() { # label, extra usher args...
  local label=$1; shift
  local port; port=$(free_port)
  "$usher" --port "$port" --threads "$threads" --save "" --loglevel warning "$@" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  local scraper=""
  if [ -n "${METRICS_PORT:-}" ]; then
    ( while true; do curl -s "http://127.0.0.1:$METRICS_PORT/metrics" >/dev/null; sleep 1; done ) &
    scraper=$!
  fi
  "$rush" --port "$port" --server-pid "$pid" --pipeline "$pipeline" --duration "$duration" \
    --label "$label" --csv "$csv" --quiet >/dev/null
  [ -n "$scraper" ] && kill "$scraper" 2>/dev/null || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
for r in $(seq 1 "$runs"); do
  echo "round $r/$runs" >&2
  METRICS_PORT="" one off
  mp=$(free_port); METRICS_PORT=$mp one scraped --metrics-port "$mp"
done
python3 - "$csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
key = next(k for k in rows[0] if "cpu" in k and "ops" in k)
by = {}
for r in rows:
    by.setdefault(r["label"], []).append(float(r[key]))
for label, v in by.items():
    print(f"{label:8} {key}: median {statistics.median(v):.0f}  runs {[round(x) for x in v]}")
print(f"scraped / off: {statistics.median(by['scraped']) / statistics.median(by['off']):.3f}")
PY
rm -f "$csv"
