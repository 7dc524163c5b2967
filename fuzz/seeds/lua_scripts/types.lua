local r = redis.call('LRANGE', KEYS[1], 0, -1)
local t = redis.call('HGETALL', '{k}h')
redis.setresp(3)
local m = redis.call('HGETALL', '{k}h')
local z = redis.pcall('ZRANGE', '{k}z', 0, -1, 'WITHSCORES')
local ok, e = pcall(redis.call, 'NOSUCH')
redis.log(redis.LOG_WARNING, cjson.encode(r))
return {r, t, m, z, tostring(e), cmsgpack.pack(t), struct.pack('>I2', 7), bit.band(7, 3), redis.sha1hex('x'), {double=1.5}, {big_number='123'}, redis.status_reply('OK'), redis.error_reply('MY err')}
