-- The claimed set of a player's mail (sorted set: mail id -> its expiry ms) is what makes
-- a Redis credit happen once per mail id.

-- claims_keep forgets claims whose mail could no longer be accepted, and keeps the set
-- alive until keep_ms (the latest expiry just claimed) plus a day.
local function claims_keep(key, now, keep)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - 86400000)
  if keep > 0 then
    local ttl = keep - now + 86400000
    if redis.call('PTTL', key) < ttl then
      redis.call('PEXPIRE', key, ttl)
    end
  end
end
