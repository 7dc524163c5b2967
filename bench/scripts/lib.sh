# Helpers the benchmark scripts share; sourced, never run: . "$root/bench/scripts/lib.sh"

# A TCP port free on 127.0.0.1 now (the kernel picks it).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# A process's CPU time so far (utime + stime), in clock ticks (getconf CLK_TCK per second).
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# A process's resident memory in KiB (empty once it is gone).
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || true; }

# `--threads N`, or nothing for N = "default" (the thread count a plain start gets), as an
# array: usher_threads_args N; "$usher" "${THREADS_ARGS[@]}" ...
usher_threads_args() {
  if [ "$1" = default ]; then THREADS_ARGS=(); else THREADS_ARGS=(--threads "$1"); fi
}

# Starts BIN (usher or redis-server) fresh in an empty folder with ARGS, waits until it has
# loaded (a server still loading or creating its AOF answers PING but refuses writes with
# -LOADING), runs redis-benchmark with BENCH (one string of options) against it, stops it,
# and prints "LABEL,ops per second,ops per server-CPU-second".
# Usage: measure_fresh LABEL REQUESTS "BENCH" BIN [ARGS...]
measure_fresh() {
  local label=$1 n=$2 bench=$3 bin=$4; shift 4
  local dir port pid c0 c1 t0 t1
  dir=$(mktemp -d "${TMPDIR:-/tmp}/measure.XXXXXX"); port=$(free_port)
  "$bin" --port "$port" --save "" --dir "$dir" --loglevel warning "$@" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    redis-cli -p "$port" info persistence 2>/dev/null | grep -q '^loading:0' && break; sleep 0.1
  done
  c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  redis-benchmark -p "$port" -n "$n" -q $bench >/dev/null
  t1=$(date +%s.%N); c1=$(cpu_ticks "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$dir"
  python3 -c "import sys; n, t, c, hz = $n, $t1 - $t0, $c1 - $c0, $(getconf CLK_TCK); \
print(f'$label,{n / t:.0f},{n * hz / c if c else float(\"nan\"):.0f}')"
}
