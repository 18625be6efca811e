-- Start gifted infinite lives exactly once per mail id: each fresh id extends the
-- player's modifier, until = max(until, now) + duration.
-- KEYS[1] the player's infinite-lives key, KEYS[2] claimed. ARGV: now_ms (game), then
-- triples (mail id, expires_at_ms, duration_ms). Returns {until_ms, newly credited ids...}.
local now = tonumber(ARGV[1])
local u = tonumber(redis.call('GET', KEYS[1]) or '0')
if u < now then
  u = now
end
local keep, fresh = 0, {}
for i = 2, #ARGV, 3 do
  local exp = tonumber(ARGV[i + 1])
  if redis.call('ZADD', KEYS[2], 'NX', exp, ARGV[i]) == 1 then
    u = u + tonumber(ARGV[i + 2])
    fresh[#fresh + 1] = ARGV[i]
  end
  if exp > keep then keep = exp end
end
if #fresh > 0 then
  -- Space reclamation only: the game clock never runs behind real time.
  redis.call('SET', KEYS[1], u, 'PX', u - now + 86400000)
end
claims_keep(KEYS[2], now, keep)
local out = {u}
for _, id in ipairs(fresh) do
  out[#out + 1] = id
end
return out
