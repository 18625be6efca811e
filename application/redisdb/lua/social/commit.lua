-- Mark a delivered life as sent and earn its gift points, once.
-- KEYS[1] cooldown, KEYS[2] gift points. ARGV: mail id, points.
-- Returns the sender's gift points.
local v = redis.call('HMGET', KEYS[1], 's', 'id')
if v[1] == 'pending' and v[2] == ARGV[1] then
  redis.call('HSET', KEYS[1], 's', 'sent')
  return redis.call('INCRBY', KEYS[2], tonumber(ARGV[2]))
end
return tonumber(redis.call('GET', KEYS[2]) or '0')
