-- One request against a shared rate limit, by GCRA (the generic cell rate algorithm):
-- on average one request per interval, up to burst at once. The key holds the
-- theoretical arrival time (TAT, ms): when the budget would be back to full, minus one
-- interval. A request fits while it comes no earlier than TAT - (burst - 1) * interval;
-- each one that fits moves TAT one interval on. The key expires when TAT has passed,
-- where a missing key means the same: a full budget.
-- KEYS[1] the TAT. ARGV: now_ms, interval_ms (may be fractional), burst.
-- Returns {1, 0} when allowed (and counted), {0, retry_after_ms} when not (nothing counted).
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  return {0, math.ceil(allow_at - now)}
end
-- %.3f, not tostring: tostring keeps 14 digits, too few for milliseconds since 1970.
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.max(1, math.ceil(new_tat - now)))
return {1, 0}
