#!/usr/bin/env bash
# ADMIT 100 on a random-method event split 8 ways, 100,000 waiting: server time per ADMIT
# (INFO commandstats). Usage: bench/scripts/split_random_admit.sh USHER_BIN PORT
bin=$1; port=$2
dir=$(mktemp -d); "$bin" --port $port --shards 8 --save "" --dir $dir --queue-now-max-skew 0 >/dev/null 2>&1 & pid=$!
sleep 0.5
python3 -c "
import sys
for i in range(100000):
    u='user%d'%i
    sys.stdout.write('*6\r\n\$5\r\nENTER\r\n\$9\r\nq:{rand1}\r\n\$9\r\na:{rand1}\r\n\$%d\r\n%s\r\n\$3\r\nNOW\r\n\$13\r\n%d\r\n'%(len(u),u,1800000000000+i))
" | redis-cli -p $port --pipe >/dev/null 2>&1
redis-cli -p $port QPOLICY SET 'q:{rand1}' 'a:{rand1}' METHOD random SEED s1 >/dev/null
redis-cli -p $port QSPLIT 'q:{rand1}' 8 >/dev/null
redis-cli -p $port CONFIG RESETSTAT >/dev/null
for i in $(seq 20); do redis-cli -p $port ADMIT 'q:{rand1}' 'a:{rand1}' 100 NOW 1800000200000 >/dev/null; done
redis-cli -p $port INFO commandstats | grep -i "cmdstat_admit"
redis-cli -p $port ZCARD 'a:{rand1}'
kill $pid; wait $pid 2>/dev/null; rm -rf $dir
