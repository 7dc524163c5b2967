#!/usr/bin/env bash
# What TLS and ACL checks cost per request: server CPU microseconds per request (utime + stime
# of the usher process, from /proc, over a fixed number of requests), for redis-benchmark SET
# and GET on
#   plain     the plain port, default user (the ACL fast path)
#   acl       the plain port, a user with `+@all -flushall ~* &*` (every command checked)
#   tls       the TLS port (TLS 1.3, no client certificate), default user
# in alternating rounds on one server per round. Certificates are made with openssl.
#
# Usage: bench/scripts/tls_cost.sh [--rounds 3] [--requests 200000] [--pipeline 1] [--clients 50]
set -euo pipefail
rounds=3; requests=200000; pipeline=1; clients=50
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    --pipeline) pipeline="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
usher=${USHER_BIN:-$root/target/release/usher}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
(
  cd "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
    -out ca.crt -days 2 -subj "/CN=bench CA" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key \
    -out server.csr -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
    -days 2 -extfile san.ext 2>/dev/null
)
. "$root/bench/scripts/lib.sh"
tick_us=$((1000000 / $(getconf CLK_TCK)))

one() { # mode -> prints "mode test us_per_request" lines
  local mode=$1 port tls_port pid
  port=$(free_port); tls_port=$(free_port)
  "$usher" --port "$port" --threads 1 --save "" --loglevel warning --tls-port "$tls_port" \
    --tls-cert-file "$dir/server.crt" --tls-key-file "$dir/server.key" \
    --tls-auth-clients no >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$port" ACL SETUSER bench on '>pw' '+@all' '-flushall' '~*' '&*' >/dev/null
  local args=(-p "$port")
  case "$mode" in
    acl) args+=(--user bench -a pw) ;;
    tls) args=(-p "$tls_port" --tls --cacert "$dir/ca.crt") ;;
  esac
  for t in set get; do
    local before after
    before=$(cpu_ticks "$pid")
    redis-benchmark "${args[@]}" -t "$t" -n "$requests" -c "$clients" -P "$pipeline" -q \
      --threads 1 >/dev/null 2>&1
    after=$(cpu_ticks "$pid")
    echo "$mode $t $(( (after - before) * tick_us * 1000 / requests ))"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

results=$(for _ in $(seq 1 "$rounds"); do for m in plain acl tls; do one "$m"; done; done)
echo "server CPU ns per request (median of $rounds rounds; -P $pipeline, $clients clients)"
for t in set get; do
  for m in plain acl tls; do
    median=$(echo "$results" | awk -v m="$m" -v t="$t" '$1==m && $2==t {print $3}' | sort -n |
      awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    runs=$(echo "$results" | awk -v m="$m" -v t="$t" '$1==m && $2==t {printf "%s ", $3}')
    echo "$t $m $median ($runs)"
  done
done
