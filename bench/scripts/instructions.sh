#!/usr/bin/env bash
# Server instructions per request, counted by callgrind: repeatable on a noisy machine, so a
# change on the command path can be measured to a few instructions. Two runs (N and 3N
# requests) are subtracted, which removes start-up and shutdown.
#
# Usage: bench/scripts/instructions.sh [-t get,set] [--cmd name='SETBIT bits:__rand_int__ 4095 1']
#            [-r 100000] [-P 16] [-c 10] [-n 20000] [--threads 2] [--keep DIR] [--redis]
#            [--preload FILE.resp] [BIN ...]
# Prints one line per binary and test: "<bin> <test> P=<p> Ir/request <n> (<m> without cron)".
#
# The second figure leaves out the periodic task (usher's per-worker cron, Redis's serverCron:
# expiry, memory statistics at 10 Hz): under callgrind the server runs about 50 times slower,
# so the cron's share grows with the run's wall time, not with the requests, and is some
# hundreds of instructions per request here against a few natively.
#
# A binary whose name ends in redis-server is started as Redis (no save points, no AOF); any
# other as usher with --threads (`--threads default`: no flag, the configuration a newcomer
# gets). --redis adds the installed redis-server to the binaries, so
# both servers are measured on the same request stream (same redis-benchmark command, same
# -r seed-free random keys, same N). --cmd runs a custom command as test "name", as
# side_by_side.sh does (__rand_int__ needs -r). --keep DIR keeps the callgrind files of both
# runs (<name>.<test>.P<p>.<n>.out) for callgrind_annotate; subtracting the two runs' profiles
# function by function gives the per-request profile. --preload pipes a file of RESP commands
# (bench/scripts/line_gen.py's waiting line, say) into each server before its requests: both
# runs load it, so its cost cancels out, and the requests meet a full keyspace (QPOS on users
# who wait, not on an empty line).
#
# At -P 1 the per-request wake-ups depend on how many connections are ready at once, which
# under callgrind (the server runs ~50x slower) is all of them: -c 1 makes every request its
# own read, command and write, the most pessimistic and the most repeatable figure.
set -euo pipefail
tests=""; pipeline=16; n=20000; threads=2; clients=10; keyspace=10000; keep=""; preload=""; bins=()
declare -A custom
while [ $# -gt 0 ]; do
  case "$1" in
    -t) tests="${tests:+$tests,}$2"; shift 2 ;;
    --cmd) custom[${2%%=*}]=${2#*=}; tests="${tests:+$tests,}${2%%=*}"; shift 2 ;;
    -r) keyspace="$2"; shift 2 ;;
    -P) pipeline="$2"; shift 2 ;;
    -c) clients="$2"; shift 2 ;;
    -n) n="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --keep) keep="$2"; mkdir -p "$keep"; shift 2 ;;
    --redis) bins+=("$(command -v redis-server)"); shift ;;
    --preload) preload=$(realpath "$2"); shift 2 ;;
    *) bins+=("$(realpath "$1")"); shift ;;
  esac
done
[ -z "$tests" ] && tests="get,set"
[ ${#bins[@]} -eq 0 ] && bins=("$(cd "$(dirname "$0")/../.." && pwd)/target/release/usher")
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"
cron_ir() { # callgrind file -> inclusive Ir of the cron (every file:function entry of it)
  # From / : run where the sources are, callgrind_annotate lists a function under its
  # relative and its absolute file name both, each with the whole inclusive cost.
  (cd / && callgrind_annotate --inclusive=yes --auto=no --threshold=100 "$1" 2>/dev/null |
    awk '/:usher(_server)?::runtime::cron::\{\{closure\}\}( |$)|:serverCron( |$)/ {gsub(",", "", $1); s += $1}
         END {print s + 0}')
}
run() { # bin test requests -> "total-Ir cron-Ir"
  local port out pid dir; port=$(free_port); out=$(mktemp); dir=$(mktemp -d)
  if [[ "$1" == *redis-server ]]; then
    (cd "$dir" && exec valgrind --tool=callgrind --callgrind-out-file="$out" "$1" --port "$port" \
      --save "" --appendonly no --loglevel warning >/dev/null 2>&1) &
  else
    usher_threads_args "$threads"
    (cd "$dir" && exec valgrind --tool=callgrind --callgrind-out-file="$out" "$1" --port "$port" \
      "${THREADS_ARGS[@]}" --save "" --loglevel warning >/dev/null 2>&1) &
  fi
  pid=$!
  for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.3; done
  redis-cli -p "$port" ping >/dev/null 2>&1 || { echo "$1 did not start" >&2; kill "$pid" 2>/dev/null; exit 1; }
  [ -n "$preload" ] && redis-cli -p "$port" --pipe <"$preload" >/dev/null
  if [ -n "${custom[$2]:-}" ]; then
    # The custom command is split into its arguments, without globbing (XADD's `*`).
    set -f
    # shellcheck disable=SC2086
    redis-benchmark -p "$port" -n "$3" -P "$pipeline" -c "$clients" -r "$keyspace" -q ${custom[$2]} >/dev/null 2>&1
    set +f
  else
    redis-benchmark -p "$port" -t "$2" -n "$3" -P "$pipeline" -c "$clients" -r "$keyspace" -q >/dev/null 2>&1
  fi
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait "$pid" 2>/dev/null || true
  echo "$(grep -E "^(summary|totals):" "$out" | head -1 | awk '{print $2}') $(cron_ir "$out")"
  [ -n "$keep" ] && cp "$out" "$keep/$(basename "$1").$2.P$pipeline.$3.out"
  rm -rf "$out"* "$dir"
}
for bin in "${bins[@]}"; do
  for t in ${tests//,/ }; do
    read -r a ac < <(run "$bin" "$t" "$n")
    read -r b bc < <(run "$bin" "$t" $((3 * n)))
    [ -n "${a:-}" ] && [ -n "${b:-}" ] || exit 1
    echo "$bin $t P=$pipeline Ir/request $(( (b - a) / (2 * n) )) ($(( (b - bc - a + ac) / (2 * n) )) without cron)"
  done
done
