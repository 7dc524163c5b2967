-- enter_native.lua: what ENTER does natively, written as a script (usher's docs/commands.md
-- cites it as ENTER's equivalent). Arrival scores are Unix ms plus a 1/2048 ms slot, so order is
-- strict FIFO within a millisecond and every score is exact.
-- KEYS[1] waiting line (ZSET), KEYS[2] active set (ZSET, score = expiry ms)
-- ARGV: user, now (ms)
local queue, active, user, now = KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2])
local expiry = redis.call('ZSCORE', active, user)
if expiry then
    if tonumber(expiry) > now then
        return {'ACTIVE', 0, redis.call('ZCARD', queue)}
    end
    redis.call('ZREM', active, user)
end
local rank = redis.call('ZRANK', queue, user)
if rank then
    return {'WAITING', rank + 1, redis.call('ZCARD', queue)}
end
local score = now
local last = redis.call('ZRANGE', queue, -1, -1, 'WITHSCORES')
if #last == 2 and tonumber(last[2]) >= now then
    score = math.floor(tonumber(last[2]) * 2048) / 2048 + 1 / 2048
end
redis.call('ZADD', queue, score, user)
return {'NEW', redis.call('ZRANK', queue, user) + 1, redis.call('ZCARD', queue)}
