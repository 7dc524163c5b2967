local v = cjson.decode('{"a":[1,2,{"b":null}],"c":"\\u00e9","d":1e300}')
local p = cmsgpack.unpack(cmsgpack.pack(v, {1, 2, 3}, 'str', 3.25, -1))
redis.call('SET', KEYS[2], cjson.encode(v))
return cjson.encode(p)
