-- Record a play's settlement: the first result wins and is returned again.
-- KEYS[1] play. ARGV: body_hash, result_json, code ('ok' | 'rejected').
-- Returns {body_hash, result_json, code} as stored.
local v = redis.call('HMGET', KEYS[1], 'st', 'bh', 'res', 'code')
if v[1] == 'settled' then
  return {v[2], v[3], v[4]}
end
if v[1] == false then
  -- The space TTL reclaimed the key; SQL keeps the record, nothing to store here.
  return {ARGV[1], ARGV[2], ARGV[3]}
end
redis.call('HSET', KEYS[1], 'st', 'settled', 'bh', ARGV[1], 'res', ARGV[2], 'code', ARGV[3])
return {ARGV[1], ARGV[2], ARGV[3]}
