#!/usr/bin/env bash
# Server instructions per request, counted by callgrind: repeatable on a noisy machine, so a
# change on the command path can be measured to a few instructions. Two runs (N and 3N
# requests) are subtracted, which removes start-up and shutdown.
#
# Usage: bench/scripts/instructions.sh [-t get,set] [-P 16] [-n 20000] [--threads 2] [BIN ...]
# Prints one line per binary and test: "<bin> <test> P=<p> Ir/request <n>".
set -euo pipefail
tests="get,set"; pipeline=16; n=20000; threads=2; bins=()
while [ $# -gt 0 ]; do
  case "$1" in
    -t) tests="$2"; shift 2 ;;
    -P) pipeline="$2"; shift 2 ;;
    -n) n="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    *) bins+=("$1"); shift ;;
  esac
done
[ ${#bins[@]} -eq 0 ] && bins=("$(cd "$(dirname "$0")/../.." && pwd)/target/release/usher")
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
run() { # bin test requests -> total Ir
  local port out pid; port=$(free_port); out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$1" --port "$port" --threads "$threads" \
    --loglevel warning >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.3; done
  redis-benchmark -p "$port" -t "$2" -n "$3" -P "$pipeline" -c 10 -r 10000 -q >/dev/null 2>&1
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait "$pid" 2>/dev/null || true
  grep -E "^(summary|totals):" "$out" | head -1 | awk '{print $2}'
  rm -f "$out"*
}
for bin in "${bins[@]}"; do
  for t in ${tests//,/ }; do
    a=$(run "$bin" "$t" "$n"); b=$(run "$bin" "$t" $((3 * n)))
    echo "$bin $t P=$pipeline Ir/request $(( (b - a) / (2 * n) ))"
  done
done
