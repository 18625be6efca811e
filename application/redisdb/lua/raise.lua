-- Raise a slot's fence to an epoch, never lower it. KEYS[1] fence. ARGV: epoch.
-- Returns the fence's epoch afterwards.
local have = tonumber(redis.call('GET', KEYS[1]) or '0')
if have < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
  return tonumber(ARGV[1])
end
return have
