"""The Lua scripts behind :class:`~bot.stopflow.store.redis.RedisStore`: each check-and-set runs
inside Redis, atomically, so exactly one replica wins it. Kept apart from the store's Python so
that each reads on its own; every script reaches its keys by name (a standalone Redis, not
Redis Cluster)."""

# KEYS[1] claim; ARGV holder, ttl in ms. Returns nil when taken, else the holder there.
CLAIM = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
return redis.call('GET', KEYS[1])
"""

# KEYS[1] claim; ARGV holder, ttl in ms. Like CLAIM, but the holder itself renews it: a lease
# only its holder extends (the single stream watcher). Returns nil when held now, else the
# other holder.
HOLD = """
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return current end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
"""

# KEYS[1] claim; ARGV holder.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""

# Every script takes the time from Redis's clock (``TIME``), never the caller's: a lease
# written by one replica and judged by another is measured on one clock. Written with six
# decimals, as Python's float() reads it back.
_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local function at(seconds) return string.format('%.6f', now + tonumber(seconds)) end
"""

# KEYS[1] entry, KEYS[2] leases, KEYS[3] created, then one key per claim; ARGV stop_id, lease
# seconds, created_at, the number of claims n, n holder/ttl-in-ms pairs, then the entry's
# field/value pairs. An entry of this id already there: returns {0, its owner}, takes
# nothing. Else takes the claims in order; at one already held, returns {its position, its
# holder} and writes nothing more. Else writes the entry and returns its lease_until.
BEGIN = (
    _NOW
    + """
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner then return {0, owner} end
local n = tonumber(ARGV[4])
for i = 1, n do
  if not redis.call('SET', KEYS[3 + i], ARGV[3 + 2 * i], 'NX', 'PX', ARGV[4 + 2 * i]) then
    return {i, redis.call('GET', KEYS[3 + i])}
  end
end
local lease_until = at(ARGV[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 5 + 2 * n))
redis.call('HSET', KEYS[1], 'lease_until', lease_until)
redis.call('ZADD', KEYS[2], lease_until, ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return lease_until
"""
)

# What UPDATE and FINISH answer: applied, no such entry, somebody else's (or finished).
OWNED, MISSING, ELSEWHERE = 1, -1, 0

# KEYS[1] entry, KEYS[2] leases; ARGV stop_id, owner, lease seconds, then field/value pairs.
UPDATE = (
    _NOW
    + """
local current = redis.call('HMGET', KEYS[1], 'owner', 'finished_at')
if not current[1] then return -1 end
if current[1] ~= ARGV[2] or tonumber(current[2]) ~= 0 then return 0 end
local lease_until = at(ARGV[3])
redis.call('HSET', KEYS[1], 'lease_until', lease_until, unpack(ARGV, 4))
redis.call('ZADD', KEYS[2], lease_until, ARGV[1])
return 1
"""
)

# KEYS[1] entry, KEYS[2] leases, KEYS[3] a claim to give back (optional); ARGV stop_id, owner,
# outcome, detail, keep ms, the claim's holder.
FINISH = (
    _NOW
    + """
if KEYS[3] and redis.call('GET', KEYS[3]) == ARGV[6] then redis.call('DEL', KEYS[3]) end
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then return -1 end
if owner ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'step', 'finished', 'outcome', ARGV[3], 'detail', ARGV[4],
           'finished_at', at(0), 'response_url', '')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""
)

# KEYS[1] leases; ARGV owner, lease seconds, limit, entry key prefix.
# Returns the taken entries, each as HGETALL's flat field/value list.
TAKE_ORPHANS = (
    _NOW
    + """
local taken = {}
local lease_until = at(ARGV[2])
for _, stop_id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', at(0),
                                    'LIMIT', 0, ARGV[3])) do
  local key = ARGV[4] .. stop_id
  local current = redis.call('HMGET', key, 'owner', 'finished_at')
  if current[1] and tonumber(current[2]) == 0 then
    redis.call('HSET', key, 'owner', ARGV[1], 'lease_until', lease_until,
               'recovered_from', current[1])
    redis.call('ZADD', KEYS[1], lease_until, stop_id)
    taken[#taken + 1] = redis.call('HGETALL', key)
  else
    redis.call('ZREM', KEYS[1], stop_id)
  end
end
return taken
"""
)

NEVER = 1e300  # a creation time no entry has: recent() since it finds nothing
# KEYS[1] created; ARGV since, entry key prefix. Drops index members whose entry expired.
RECENT = """
local found = {}
local index = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #index, 2 do
  local key = ARGV[2] .. index[i]
  if redis.call('EXISTS', key) == 0 then
    redis.call('ZREM', KEYS[1], index[i])
  elseif tonumber(index[i + 1]) >= tonumber(ARGV[1]) then
    found[#found + 1] = redis.call('HGETALL', key)
  end
end
return found
"""
