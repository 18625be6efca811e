-- Take players out of a slot's lives-full index once their lives_full push is queued,
-- unless a newer play moved their instant meanwhile.
-- KEYS[1] the index. ARGV: pairs of member (player id) and the score it was read with.
-- Returns how many it removed.
local n = 0
for i = 1, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    n = n + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return n
