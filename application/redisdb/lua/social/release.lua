-- Give back a reservation whose life could not be delivered (mailbox_full), so the
-- sender's cooldown is not consumed. KEYS[1] cooldown. ARGV: mail id.
local v = redis.call('HMGET', KEYS[1], 's', 'id')
if v[1] == 'pending' and v[2] == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
