#!/usr/bin/env python3
"""Writes GEOADD commands for 20,000 venues spread over 1 x 0.6 degrees around Palermo (key
`geo`), one inline command per 100 venues, for side_by_side.sh --preload: the data set of the
GEOSEARCH benchmark in docs/benchmarks.md. Seeded, so both servers get the same points.
Usage: bench/scripts/geo_preload.py > /tmp/geo_preload.txt"""
import random

random.seed(7)
for i in range(0, 20000, 100):
    args = []
    for j in range(i, i + 100):
        args += ["%.6f" % (13.0 + random.random()), "%.6f" % (37.8 + random.random() * 0.6), "venue:%d" % j]
    print("GEOADD geo " + " ".join(args))
