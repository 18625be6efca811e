-- Credit mailed lives exactly once per mail id.
-- KEYS[1] lives, KEYS[2] claimed (sorted set: mail id -> its expiry ms).
-- ARGV: now_ms (game), max, regen_ms, then pairs of (mail id, expires_at_ms), each worth
-- one life. Returns {newly credited, count, next_life_at_ms, newly credited ids...}.
local now, max, regen = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local c, t = lives_load(KEYS[1], now, max, regen)
local credited, keep, fresh = 0, 0, {}
for i = 4, #ARGV, 2 do
  local exp = tonumber(ARGV[i + 1])
  if redis.call('ZADD', KEYS[2], 'NX', exp, ARGV[i]) == 1 then
    credited = credited + 1
    fresh[#fresh + 1] = ARGV[i]
  end
  if exp > keep then keep = exp end
end
if credited > 0 then
  local _
  _, c, t = lives_add(c, t, credited, now, max)
  lives_store(KEYS[1], c, t, max, regen)
end
claims_keep(KEYS[2], now, keep)
local out = {credited, c, lives_next(c, t, max, regen)}
for _, id in ipairs(fresh) do
  out[#out + 1] = id
end
return out
