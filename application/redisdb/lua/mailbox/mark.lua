-- Mark mail ids claimed whose credit another store made once (coins, in SQL), so that
-- listings hide them. KEYS[1] claimed (sorted set: mail id -> its expiry ms).
-- ARGV: now_ms (game), then pairs of (mail id, expires_at_ms). Returns how many were new.
local now, n, keep = tonumber(ARGV[1]), 0, 0
for i = 2, #ARGV, 2 do
  local exp = tonumber(ARGV[i + 1])
  n = n + redis.call('ZADD', KEYS[1], 'NX', exp, ARGV[i])
  if exp > keep then keep = exp end
end
claims_keep(KEYS[1], now, keep)
return n
