#!/usr/bin/env bash
# Instructions per call of Lua's pattern functions, redis-server against usher, under
# callgrind (deterministic where CPU time on this shared machine is not).
#
# For each call shape, each server runs one EVAL looping 100,000 times over it; the total
# instructions of that server's run, less those of the same loop with an empty body, over
# 100,000, is the cost of one call (the Lua VM's loop and the call itself included).
#
#   bench/scripts/lua_pattern_instructions.sh [usher-binary] [redis-server]
set -euo pipefail
usher=${1:-target/release/usher}
redis=${2:-redis-server}
port=${PORT:-7390}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bodies=(
  "n=n+1"
  "local a,b,c = match('bull:queue:123', '(.-):(.-):(%d+)')"
  "local s = gsub('a.b.c', '%.', ':')"
  "local s = match('hello', 'l')"
  "local s = find('some long text here', 'here', 1, true)"
  "local s = find('key:abc', ':(%a+)')"
)
total() { # server body -> total instructions of the run
  valgrind --tool=callgrind --callgrind-out-file="$work/out.%p" "$1" --port "$port" --save "" \
    > "$work/log" 2>&1 &
  local vp=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping > /dev/null 2>&1 && break; sleep 0.2; done
  redis-cli -p "$port" EVAL "local n=0 local gsub, match, find = string.gsub, string.match, \
string.find for i=1,100000 do $2 end return n" 0 > /dev/null
  redis-cli -p "$port" shutdown nosave > /dev/null 2>&1 || true
  wait "$vp" || true
  grep -h "^summary:\|^totals:" "$work"/out.* | head -1 | awk '{print $2}'
  rm -f "$work"/out.*
}
declare -A base
for server in "$redis" "$usher"; do base[$server]=$(total "$server" "${bodies[0]}"); done
printf '%-60s %8s %8s %6s\n' "call" "redis" "usher" "u/r"
for body in "${bodies[@]:1}"; do
  echo "  measuring: $body" >&2
  r=$(( ($(total "$redis" "$body") - ${base[$redis]}) / 100000 ))
  u=$(( ($(total "$usher" "$body") - ${base[$usher]}) / 100000 ))
  printf '%-60s %8d %8d %6.2f\n' "$body" "$r" "$u" "$(echo "$u / $r" | bc -l)"
done
