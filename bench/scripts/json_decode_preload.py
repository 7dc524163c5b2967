"""Writes preload.resp for instructions.sh --preload: a 290-byte JSON order record at order:1
and the script that decodes it (`SCRIPT LOAD`); prints the script's SHA for --cmd EVALSHA.

    python3 bench/scripts/json_decode_preload.py > /dev/null   # writes ./preload.resp
"""
import hashlib
import json

ORDER = {
    "order": "ord-000042", "event": "concert42", "user": "u-1029384", "status": "held",
    "seats": [{"row": "F", "num": 12, "price": 89.5}, {"row": "F", "num": 13, "price": 89.5}],
    "token": 123456789, "expires_at": 1795000000000,
    "payment": {"method": "card", "last4": "4242", "verified": False},
    "notes": "aisle \u00e9 please",
}
SCRIPT = "local t = cjson.decode(redis.call('GET', KEYS[1])) return t.status"


def resp(*args):
    out = f"*{len(args)}\r\n"
    for a in args:
        out += f"${len(a.encode())}\r\n{a}\r\n"
    return out


doc = json.dumps(ORDER, separators=(",", ":"))
with open("preload.resp", "w") as f:
    f.write(resp("SET", "order:1", doc) + resp("SCRIPT", "LOAD", SCRIPT))
print(hashlib.sha1(SCRIPT.encode()).hexdigest())
