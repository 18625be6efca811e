-- Count one failed GMS login and (re)start the counter's lockout window.
-- KEYS[1] counter. ARGV: lockout ms. Returns the count.
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
