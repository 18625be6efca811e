-- Add a play to one of its slot's indexes (pending, settling), or remove it.
-- KEYS[1] the index. ARGV: 'add' | 'del', member ("player/play"),
-- score (real start ms, for 'add').
if ARGV[1] == 'add' then
  return redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
end
return redis.call('ZREM', KEYS[1], ARGV[2])
