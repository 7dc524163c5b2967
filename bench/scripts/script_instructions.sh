#!/usr/bin/env bash
# Instructions per pipelined EVALSHA of each seed script (tests/scripts/), usher and the
# installed redis-server, counted by callgrind through instructions.sh: each script is loaded
# by a --preload of its SCRIPT LOAD, then redis-benchmark sends EVALSHA with the same
# arguments as scripts_side_by_side.sh. About 4 minutes.
#
# Usage: bench/scripts/script_instructions.sh [USHER_BIN]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/release/usher}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
while IFS='|' read -r name file args; do
  sha=$(python3 - "tests/scripts/$file" "$work/$name.resp" <<'PY'
import hashlib, sys
src = open(sys.argv[1], 'rb').read()
cmd = [b'SCRIPT', b'LOAD', src]
open(sys.argv[2], 'wb').write(b'*3\r\n' + b''.join(b'$%d\r\n%s\r\n' % (len(x), x) for x in cmd))
print(hashlib.sha1(src).hexdigest())
PY
)
  bench/scripts/instructions.sh -P 16 -c 10 -n 20000 -r 100000 --threads default --redis \
    --preload "$work/$name.resp" --cmd "$name=EVALSHA $sha $args" "$bin" 2>&1 | tail -2
done <<'W'
seat_lock|seat_lock_with_token.lua|1 seat:__rand_int__ user:1 300
payment_verify|payment_verify.lua|1 seat:__rand_int__ user:1 1
consume_token|consume_token.lua|1 token:__rand_int__ 1795000000000
enter_queue|enter_queue.lua|2 at:{e}:__rand_int__ queue:{e} user:__rand_int__ 1795000000000 1795000000000
admission|admission_zpopmin.lua|2 queue:{e} active:{e} 10 1795000000000 300000 1000000
cleanup_stale|cleanup_stale.lua|2 hb:{e} queue:{e} 0 100
W
