#!/usr/bin/env bash
# Loading a 1,000,000-member waiting line from an RDB file: usher vs redis-server 7.0.
#
# redis-server builds the line (ZADD of user:<n> at arrival-like scores, the shape ENTER
# writes) and SAVEs it; both servers then start on that same file and report their load time
# from their own logs. usher's file (written by SAVE after loading) is also loaded back, and
# SAVE/BGSAVE times are printed.
#
#   bench/scripts/rdb_load.sh [members] [usher-binary]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000000}
USHER=${2:-target/release/usher}
DIR=$(mktemp -d)
trap 'redis-cli -p 7791 shutdown nosave >/dev/null 2>&1 || true; redis-cli -p 7792 shutdown nosave >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT

redis-server --port 7791 --save "" --dir "$DIR" --daemonize yes --logfile "$DIR/redis-build.log" >/dev/null
sleep 0.5
redis-cli -p 7791 eval "
  local t = 1765000000000
  for i = 1, tonumber(ARGV[1]), 1000 do
    local args = {}
    for j = i, math.min(i + 999, tonumber(ARGV[1])) do
      args[#args + 1] = t + j / 2048
      args[#args + 1] = 'user:' .. j
    end
    redis.call('ZADD', KEYS[1], unpack(args))
  end
  return redis.call('ZCARD', KEYS[1])" 1 "queue:{concert}" "$N" >/dev/null
redis-cli -p 7791 save >/dev/null
redis-cli -p 7791 shutdown nosave >/dev/null || true
echo "RDB file: $(stat -c %s "$DIR/dump.rdb") bytes, $N members"

for run in 1 2 3; do
  redis-server --port 7791 --save "" --dir "$DIR" --daemonize yes --logfile "$DIR/redis-$run.log" >/dev/null
  until grep -q "Ready to accept" "$DIR/redis-$run.log" 2>/dev/null; do sleep 0.05; done
  echo "redis-server run $run: $(grep -o 'DB loaded from disk: [0-9.]* seconds' "$DIR/redis-$run.log")"
  redis-cli -p 7791 shutdown nosave >/dev/null || true
  sleep 0.3
done

for run in 1 2 3; do
  "$USHER" --port 7792 --save "" --dir "$DIR" --logfile "$DIR/usher-$run.log" &
  until grep -q "Ready to accept" "$DIR/usher-$run.log" 2>/dev/null; do sleep 0.05; done
  echo "usher run $run: $(grep -o 'DB loaded from disk: [0-9.]* seconds' "$DIR/usher-$run.log")"
  if [ "$run" = 3 ]; then
    s=$(date +%s.%N); redis-cli -p 7792 save >/dev/null; e=$(date +%s.%N)
    echo "usher SAVE of the line: $(echo "$e - $s" | bc) s, file $(stat -c %s "$DIR/dump.rdb") bytes"
  fi
  redis-cli -p 7792 shutdown nosave >/dev/null || true
  wait
done
