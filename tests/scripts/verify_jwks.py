"""Verifies usher's EdDSA tokens the way a booking service would: with PyJWT (and the
cryptography package), knowing only the JWK set `TOKENKEYS JWKS` returned, never usher's code.

    python3 verify_jwks.py '<jwks json>' '<audience>' <token> [<token> ...]

Prints one JSON line per token: {"ok": true, "kid": ..., "claims": {...}} or
{"ok": false, "error": "<PyJWT exception name>"}.
"""
import json
import sys

import jwt

jwks = jwt.PyJWKSet.from_json(sys.argv[1])
audience = sys.argv[2]
for token in sys.argv[3:]:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        matches = [k for k in jwks.keys if k.key_id == kid]
        if not matches:
            raise jwt.exceptions.PyJWKSetError("no key with kid %r" % kid)
        claims = jwt.decode(token, matches[0].key, algorithms=["EdDSA"], audience=audience)
        print(json.dumps({"ok": True, "kid": kid, "claims": claims}))
    except Exception as e:  # the exception's name is the verdict
        print(json.dumps({"ok": False, "error": type(e).__name__}))
