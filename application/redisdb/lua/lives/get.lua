-- Read a player's lives (writes nothing, so it needs no fence).
-- KEYS[1] lives key, KEYS[2] the player's gifted infinite lives; ARGV: now_ms, max, regen_ms.
-- Returns {1, count, next_life_at_ms, infinite_until_ms (0: none running)}.
local now, max, regen = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local c, t = lives_load(KEYS[1], now, max, regen)
return {1, c, lives_next(c, t, max, regen), lives_gifted(KEYS[2], now)}
