#!/usr/bin/env bash
# SETBIT, PFADD and GEOSEARCH, usher vs redis-server, at -P 1 and -P 16: the median of three
# separate side_by_side.sh runs (fresh servers each) per pipeline depth, for throughput and for
# operations per server-CPU-second (side_by_side.sh's /proc/<pid>/stat method). The median is
# taken per column, over runs that each compare both servers in the same minute.
#
# Usage: bench/scripts/bitmap_hll_geo_median.sh [--runs 3]
# Env:   USHER_BIN (default target/release/usher), REDIS_SERVER (default redis-server)
set -euo pipefail
runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
export USHER_BIN=${USHER_BIN:-$(cd "$here/../.." && pwd)/target/release/usher}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$here/geo_preload.py" >"$scratch/geo.txt"
# side_by_side.sh starts its servers in the current directory, and usher saves dump.rdb there
# on shutdown (Redis's default save points): the next run's servers would load it and answer
# -LOADING to the first requests. Each run starts in an empty folder of its own instead.
side_by_side() { local d; d=$(mktemp -d -p "$scratch"); (cd "$d" && "$here/side_by_side.sh" "$@" >/dev/null); }

bits=(--cmd setbit='SETBIT bits:__rand_int__ 4095 1' --cmd pfadd='PFADD hll __rand_int__' -r 100000)
geo=(--preload "$scratch/geo.txt" --cmd geosearch='GEOSEARCH geo FROMLONLAT 13.5 38.1 BYRADIUS 5 km ASC COUNT 10')
for i in $(seq "$runs"); do
  side_by_side -t "" "${bits[@]}" -P 1 -n 200000 --out "$scratch/bits_p1_$i.csv"
  side_by_side -t "" "${bits[@]}" -P 16 -n 1000000 --out "$scratch/bits_p16_$i.csv"
  side_by_side -t "" "${geo[@]}" -P 1 -n 50000 --out "$scratch/geo_p1_$i.csv"
  side_by_side -t "" "${geo[@]}" -P 16 -n 200000 --out "$scratch/geo_p16_$i.csv"
done

python3 - "$scratch" <<'PY'
import csv, glob, statistics, sys
rows = {}
for path in sorted(glob.glob(sys.argv[1] + "/*.csv")):
    for r in csv.DictReader(open(path)):
        rows.setdefault((r["test"], int(r["pipeline"])), []).append(r)
cols = ["redis_rps", "usher_rps", "redis_ops_per_cpu_s", "usher_ops_per_cpu_s"]
print("| test | P | redis req/s | usher req/s | ratio | redis ops/CPU-s | usher ops/CPU-s | ratio |")
print("| --- | --: | --: | --: | --: | --: | --: | --: |")
for (test, p) in sorted(rows, key=lambda k: (k[1], k[0])):
    m = {c: statistics.median(float(r[c]) for r in rows[(test, p)]) for c in cols}
    print(f"| {test} | {p} | {m['redis_rps']:,.0f} | {m['usher_rps']:,.0f} | "
          f"{m['usher_rps'] / m['redis_rps']:.2f} | {m['redis_ops_per_cpu_s']:,.0f} | "
          f"{m['usher_ops_per_cpu_s']:,.0f} | **{m['usher_ops_per_cpu_s'] / m['redis_ops_per_cpu_s']:.2f}** |")
PY
