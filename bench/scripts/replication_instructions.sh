#!/usr/bin/env bash
# The primary's instructions per pipelined ENTER with and without a replica attached:
# callgrind on the primary (--threads 2), a second usher as the replica outside valgrind,
# redis-benchmark -P 16 -c 10. Prints the primary's total instructions for one run; subtract
# two runs (N and 3N requests) to cancel start-up and shutdown:
#
#   for r in 0 1; do a=$(bench/scripts/replication_instructions.sh target/release/usher 20000 $r)
#     b=$(bench/scripts/replication_instructions.sh target/release/usher 60000 $r)
#     echo "replica=$r Ir/ENTER $(( (b - a) / 40000 ))"; done
#
# KEEP=DIR keeps the callgrind file (r<replica>.<n>.out) for callgrind_annotate.
# THREADS=N sets the primary's --threads (2 unless given; THREADS=default passes no flag, the
# configuration a newcomer gets). TEST=set measures `SET key:__rand_int__ <3 bytes>` instead.
set -euo pipefail
bin=$(realpath "$1"); n=$2; withrepl=$3
. "$(dirname "$0")/lib.sh"
port=$(free_port)
rport=$((port+1))
out=$(mktemp); dir=$(mktemp -d); rdir=$(mktemp -d)
threads=(--threads "${THREADS:-2}")
[ "${THREADS:-2}" = default ] && threads=()
(cd $dir && exec valgrind --tool=callgrind --callgrind-out-file=$out $bin --port $port ${threads[@]+"${threads[@]}"} --save "" --loglevel warning >/dev/null 2>&1) &
pid=$!
for _ in $(seq 1 100); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.3; done
if [ "$withrepl" = 1 ]; then
  (cd $rdir && exec $bin --port $rport --threads 1 --save "" --loglevel warning --replicaof 127.0.0.1 $port >/dev/null 2>&1) &
  rpid=$!
  for _ in $(seq 1 200); do redis-cli -p $rport info replication 2>/dev/null | grep -q "master_link_status:up" && break; sleep 0.3; done
fi
cmd=(ENTER 'q:{e}' 'a:{e}' 'u:__rand_int__')
[ "${TEST:-enter}" = set ] && cmd=(SET 'key:__rand_int__' xyz)
redis-benchmark -p $port -n $n -P 16 -c 10 -r 100000 -q "${cmd[@]}" >/dev/null 2>&1
if [ "$withrepl" = 1 ]; then
  redis-cli -p $port wait 1 5000 >/dev/null
fi
redis-cli -p $port shutdown nosave >/dev/null 2>&1 || true
wait $pid 2>/dev/null || true
[ "$withrepl" = 1 ] && { kill $rpid 2>/dev/null || true; wait $rpid 2>/dev/null || true; }
grep -E "^(summary|totals):" $out | head -1 | awk '{print $2}'
[ -n "${KEEP:-}" ] && cp $out $KEEP/r$withrepl.$n.out; rm -rf $out* $dir $rdir
