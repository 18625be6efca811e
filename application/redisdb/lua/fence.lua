-- The fence: the preamble of every script that writes a player's state, prepended
-- once at load (redisdb.newScript). The caller passes the slot's fence key as KEYS[1]
-- and its owner epoch as ARGV[1], before the script's own keys and arguments, which
-- are renumbered from 1 below so that the script reads them as if alone.
--
-- The fence holds the epoch of the slot's newest owner. A writer with an older epoch
-- lost the slot: refuse it and write nothing. A writer with a newer one is the new
-- owner, which raised the fence before serving (redisdb.RaiseFences); finding it
-- lower means this Redis lost data since, so raise it again here.
local fence_have = tonumber(redis.call('GET', KEYS[1]) or '0')
local fence_mine = tonumber(ARGV[1])
if fence_have > fence_mine then
  return redis.error_reply('FENCED the slot is at epoch ' .. fence_have .. ', the writer at ' .. ARGV[1])
end
if fence_have < fence_mine then
  redis.call('SET', KEYS[1], ARGV[1])
end
local function fence_shift(t)
  local out = {}
  for i = 2, #t do
    out[i - 1] = t[i]
  end
  return out
end
local KEYS, ARGV = fence_shift(KEYS), fence_shift(ARGV)
