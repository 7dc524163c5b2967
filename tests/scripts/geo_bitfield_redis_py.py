"""redis-py's documented geo and bitmap APIs against one server (port in argv[1]).

geoadd/geopos/geodist/geohash/geosearch (radius and box, with coordinates, distances, sort and
count)/geosearchstore, then bitfield(...).set/incrby with overflow/get .execute(), bitfield_ro,
setbit/getbit/bitcount/bitpos/bitop. Asserts the shapes the redis-py documentation promises,
then prints every result as JSON so the caller can compare two servers.
"""
import json
import sys

import redis

r = redis.Redis(port=int(sys.argv[1]), decode_responses=True)
r.flushall()
out = {}

# Geo: venues around Palermo.
venues = [
    13.361389, 38.115556, "teatro-massimo",
    13.370000, 38.120000, "politeama",
    13.352700, 38.110800, "zisa",
    15.087269, 37.502669, "catania-stadium",
]
out["geoadd"] = r.geoadd("venues", venues)
assert out["geoadd"] == 4, out
out["geoadd_xx_ch"] = r.geoadd("venues", [13.3614, 38.1156, "teatro-massimo"], xx=True, ch=True)
pos = r.geopos("venues", "teatro-massimo", "nowhere")
assert len(pos) == 2 and pos[1] is None and len(pos[0]) == 2, pos
out["geopos"] = pos
out["geodist_km"] = r.geodist("venues", "teatro-massimo", "catania-stadium", unit="km")
out["geodist_missing"] = r.geodist("venues", "teatro-massimo", "nowhere")
out["geohash"] = r.geohash("venues", "teatro-massimo", "zisa", "nowhere")
out["geosearch_radius"] = r.geosearch(
    "venues", longitude=13.36, latitude=38.115, radius=5, unit="km", sort="ASC"
)
rows = r.geosearch(
    "venues", member="politeama", radius=3, unit="km",
    withcoord=True, withdist=True, withhash=True, sort="ASC", count=2,
)
for row in rows:
    assert isinstance(row[0], str) and isinstance(row[1], float), row  # name, dist, hash, coords
out["geosearch_radius_with"] = rows
out["geosearch_box"] = r.geosearch(
    "venues", longitude=13.36, latitude=38.115, width=400, height=400, unit="km",
    sort="DESC", withdist=True,
)
out["geosearch_any"] = len(r.geosearch(
    "venues", longitude=13.36, latitude=38.115, radius=500, unit="km", count=1, any=True
))
out["geosearchstore"] = r.geosearchstore(
    "near", "venues", longitude=13.36, latitude=38.115, radius=5, unit="km"
)
out["geosearchstore_dist"] = r.geosearchstore(
    "near_dist", "venues", member="zisa", radius=10, unit="km", storedist=True
)
out["near"] = r.zrange("near", 0, -1, withscores=True)
out["near_dist"] = [(m, round(d, 4)) for m, d in r.zrange("near_dist", 0, -1, withscores=True)]
try:
    r.geosearch("venues", longitude=13.36, latitude=38.115, radius=-1, unit="km")
    out["geosearch_bad_radius"] = "no error"
except redis.ResponseError as e:
    out["geosearch_bad_radius"] = str(e)

# Bitfield: counters packed in one string, with the three overflow behaviours.
bf = r.bitfield("counters")
bf.set("u8", 0, 250).incrby("u8", 0, 10)  # default WRAP
bf.overflow("SAT").incrby("u8", 8, 300).incrby("i8", 16, -200)
bf.overflow("FAIL").incrby("u8", 24, 256).incrby("u4", "#8", 3)
bf.get("u8", 0).get("i8", 16).get("u4", "#8")
out["bitfield"] = bf.execute()
assert out["bitfield"][0] == 0 and out["bitfield"][1] == 4, out["bitfield"]
out["bitfield_default_overflow"] = r.bitfield("counters", default_overflow="SAT").incrby("u8", 0, 1000).execute()
out["bitfield_ro"] = r.bitfield_ro("counters", "u8", 0, items=[("i8", 16), ("u4", "#8")])
try:
    r.bitfield("counters").get("u99", 0).execute()
    out["bitfield_bad_type"] = "no error"
except redis.ResponseError as e:
    out["bitfield_bad_type"] = str(e)

# Plain bitmaps.
out["setbit"] = [r.setbit("seats", off, 1) for off in (1, 7, 9, 9, 100)]
out["setbit_clear"] = r.setbit("seats", 7, 0)
out["getbit"] = [r.getbit("seats", off) for off in (0, 1, 7, 9, 100, 10_000)]
out["bitcount"] = r.bitcount("seats")
out["bitcount_range"] = r.bitcount("seats", 0, 1)
out["bitcount_bit"] = r.bitcount("seats", 0, 15, mode="BIT")
out["bitpos_1"] = r.bitpos("seats", 1)
out["bitpos_0"] = r.bitpos("seats", 0)
out["bitpos_range"] = r.bitpos("seats", 1, 1, 12)
out["bitpos_bit_mode"] = r.bitpos("seats", 1, 2, 50, mode="BIT")
r.setbit("other", 9, 1)
r.setbit("other", 200, 1)
for op in ("AND", "OR", "XOR"):
    out[f"bitop_{op}"] = r.bitop(op, f"dest_{op}", "seats", "other")
    out[f"bitop_{op}_value"] = r.bitcount(f"dest_{op}")
out["bitop_NOT"] = r.bitop("NOT", "dest_NOT", "seats")
out["bitop_NOT_value"] = r.bitcount("dest_NOT")
try:
    r.setbit("seats", -1, 1)
    out["setbit_bad_offset"] = "no error"
except (redis.ResponseError, redis.DataError) as e:
    out["setbit_bad_offset"] = str(e)
print(json.dumps(out, sort_keys=True, default=str))
