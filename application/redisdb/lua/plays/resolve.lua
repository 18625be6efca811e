-- Resolve a pending play: 'open' once its coins are charged, or 'void' (the play is
-- removed and its life, if it took one, given back) when the charge never happened.
-- KEYS[1] lives, KEYS[2] play. ARGV: outcome ('open' | 'void'), now_ms (game), max, regen_ms.
-- Returns {resolved (1/0), count, next_life_at_ms}; 0 when the play was not pending.
local now, max, regen = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local c, t = lives_load(KEYS[1], now, max, regen)
local v = redis.call('HMGET', KEYS[2], 'st', 'lc', 'lt')
if v[1] ~= 'pending' then
  return {0, c, lives_next(c, t, max, regen)}
end
if ARGV[1] == 'open' then
  redis.call('HSET', KEYS[2], 'st', 'open')
  return {1, c, lives_next(c, t, max, regen)}
end
redis.call('DEL', KEYS[2])
if v[3] == '0' then -- started under infinite lives: no life to give back
  return {1, c, lives_next(c, t, max, regen)}
end
-- Give the life back, but never above what the player would have had without the take:
-- regeneration may have refilled it meanwhile.
local cap = math.max(max, tonumber(v[2]) or max)
if c < cap then
  local _
  _, c, t = lives_add(c, t, 1, now, max)
  lives_store(KEYS[1], c, t, max, regen)
end
return {1, c, lives_next(c, t, max, regen)}
