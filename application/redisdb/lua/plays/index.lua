-- Add a pending play to its slot's index, or remove it.
-- KEYS[1] the slot's pending index. ARGV: 'add' | 'del', member ("player/play"),
-- score (real start ms, for 'add').
if ARGV[1] == 'add' then
  return redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
end
return redis.call('ZREM', KEYS[1], ARGV[2])
