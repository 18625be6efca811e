-- Lives are a hash {c = count, t = regeneration anchor in unix ms}. A missing key means a
-- full, untouched player. Regeneration is computed lazily from the anchor on the caller's
-- game clock: while c < max, one life is added every regen ms after t. At or above max
-- (lives accepted from the mailbox may exceed it) regeneration pauses, and the anchor
-- restarts when the count drops below max again.

local function lives_load(key, now, max, regen)
  local v = redis.call('HMGET', key, 'c', 't')
  local c, t = tonumber(v[1]), tonumber(v[2])
  if c == nil then
    return max, now
  end
  if c < max and now > t then
    local n = math.floor((now - t) / regen)
    if n > 0 then
      c = c + n
      t = t + n * regen
      if c >= max then
        c, t = max, now
      end
    end
  end
  return c, t
end

-- lives_add changes the count by delta; a take that would go below zero returns false.
local function lives_add(c, t, delta, now, max)
  if c + delta < 0 then
    return false, c, t
  end
  if c >= max and c + delta < max then
    t = now
  end
  return true, c + delta, t
end

local function lives_store(key, c, t, max, regen)
  if c == max then
    -- A full player is the same as no key at all: reclaim the space.
    redis.call('DEL', key)
    return
  end
  redis.call('HSET', key, 'c', c, 't', t)
  if c < max then
    -- Space reclamation only: real time never runs ahead of the game clock, so the key
    -- outlives the moment the player is full again.
    redis.call('PEXPIRE', key, (max - c) * regen + 86400000)
  else
    redis.call('PERSIST', key)
  end
end

-- lives_gifted returns until when the player's gifted infinite lives run (0: not at now).
local function lives_gifted(key, now)
  local u = tonumber(redis.call('GET', key) or '0')
  if u > now then
    return u
  end
  return 0
end

local function lives_next(c, t, max, regen)
  if c < max then
    return t + regen
  end
  return 0
end
