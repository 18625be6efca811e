-- Reserve the sender->receiver cooldown for one life.
-- KEYS[1] cooldown hash {d = deadline ms (game), s = pending|sent, id = mail id, t = sent ms}.
-- ARGV: now_ms, cooldown_ms, new mail id.
-- Returns {0, deadline} while a sent life's cooldown runs; otherwise {1, deadline, id,
-- sent_ms}: a new reservation, or the pending one of an earlier attempt whose delivery
-- did not finish (the retry delivers the same mail id, so the receiver gets it once).
local now, cd = tonumber(ARGV[1]), tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'd', 's', 'id', 't')
local d = tonumber(v[1])
if d and d > now then
  if v[2] == 'sent' then
    return {0, d}
  end
  return {1, d, v[3], tonumber(v[4])}
end
d = now + cd
redis.call('HSET', KEYS[1], 'd', d, 's', 'pending', 'id', ARGV[3], 't', now)
-- Space only: the rule reads d on the game clock, which never runs behind real time.
redis.call('PEXPIRE', KEYS[1], cd + 86400000)
return {1, d, ARGV[3], now}
