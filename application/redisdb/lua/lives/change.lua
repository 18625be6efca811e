-- KEYS[1] lives key; ARGV: now_ms, max, regen_ms, delta.
-- Returns {ok (1/0), count, next_life_at_ms}.
local now, max, regen, delta = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local c, t = lives_load(KEYS[1], now, max, regen)
local ok = true
if delta ~= 0 then
  ok, c, t = lives_add(c, t, delta, now, max)
  if ok then
    lives_store(KEYS[1], c, t, max, regen)
  end
end
return {ok and 1 or 0, c, lives_next(c, t, max, regen)}
