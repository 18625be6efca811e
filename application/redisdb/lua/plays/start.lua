-- Take one life and open the play, atomically; with an idempotency key, also record
-- that the key started this play.
-- KEYS[1] lives, KEYS[2] play, KEYS[3] the player's gifted infinite lives, KEYS[4] the
-- slot's lives-full index, KEYS[5] (optional) the start's idempotency key.
-- ARGV: now_ms (game), max, regen_ms, status, seed, cookie, pet, boosts (comma-separated),
-- cost, space_ttl_ms, play_id, the play the key names now ('' for none), and take (1, or 0
-- while infinite lives are in force: the play takes no life), and the player's id when
-- the player has device tokens ('' otherwise): a life taken then puts the player in the
-- lives-full index at the instant the lives will be full again (a lives_full push).
-- A gifted infinite-lives modifier running at now also makes take 0.
-- Returns {ok (1/0; 2 when the key names another play by now), count, next_life_at_ms,
-- gifted infinite lives' end (0: none running)}.
if KEYS[5] and (redis.call('GET', KEYS[5]) or '') ~= ARGV[12] then
  return {2, 0, 0, 0}
end
local now, max, regen = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local c, t = lives_load(KEYS[1], now, max, regen)
local before, take, gifted = c, tonumber(ARGV[13]), lives_gifted(KEYS[3], now)
if gifted > 0 then
  take = 0
end
if take == 1 then
  local ok
  ok, c, t = lives_add(c, t, -1, now, max)
  if not ok then
    return {0, c, lives_next(c, t, max, regen), 0}
  end
  lives_store(KEYS[1], c, t, max, regen)
  if ARGV[14] ~= '' and c < max then
    redis.call('ZADD', KEYS[4], lives_next(c, t, max, regen) + (max - c - 1) * regen, ARGV[14])
  end
end
-- lc (lives before the take) bounds the refund if this play is voided later; lt says
-- whether a life was taken at all.
redis.call('HSET', KEYS[2], 'st', ARGV[4], 't0', now, 'seed', ARGV[5], 'cookie', ARGV[6],
  'pet', ARGV[7], 'boosts', ARGV[8], 'cost', ARGV[9], 'lc', before, 'lt', take)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[10]))
if KEYS[5] then
  redis.call('SET', KEYS[5], ARGV[11], 'PX', tonumber(ARGV[10]))
end
return {1, c, lives_next(c, t, max, regen), gifted}
