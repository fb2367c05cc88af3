"""A state store in Redis: what several replicas share (``STOPLIVE_REDIS_URL`` or ``REDIS_URL``).

Layout, all under one prefix: a claim is a string set with ``NX`` and an expiry; a journal
entry is one hash per stop; ``leases`` is a sorted set of the unfinished stops by lease
deadline (what a take-over scans) and ``created`` one of every kept stop by creation time
(what ``recent`` reads). Every check-and-set is a Lua script, which Redis runs atomically, so
exactly one replica wins a claim or takes over an orphan (the scripts reach entries by name,
so this is for a standalone Redis, not Redis Cluster). Lease deadlines are the replicas'
clocks (``time.time()``), so replicas on different hosts need synchronised clocks (NTP).

Fail closed, and never hang: each socket operation is bounded by ``timeout`` and redis-py's
own retries are off (a retried ``claim`` whose first answer was lost would report its own hold
as someone else's), so a call fails within about two timeouts. The pool drops a connection
that failed and opens a new one on the next call: the store carries on once Redis is back.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from bot.metrics import STORE_ERRORS
from bot.stopflow.store.base import (
    UPDATABLE,
    Claim,
    JournalEntry,
    StoreUnavailable,
    Taken,
    require_storable,
)
from bot.stopflow.store.memory import KEEP_FINISHED

TIMEOUT_SECONDS = 1.0
# Connections one replica opens at most. Callers beyond them wait for a free one (each store
# call holds it for a round trip, well under a millisecond) instead of failing: redis-py's
# default pool refuses the 101st concurrent call outright, which under a 200-click burst
# refused half the stops (bench/replicas.py).
MAX_CONNECTIONS = 16
POOL_WAIT_SECONDS = 5.0  # a burst queues behind them; a Redis that is down fails at connect
PREFIX = "stoplive:"

T = TypeVar("T")

# KEYS[1] claim; ARGV holder, ttl in ms. Returns nil when taken, else the holder there.
_CLAIM = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
return redis.call('GET', KEYS[1])
"""

# KEYS[1] claim; ARGV holder.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS[1] entry, KEYS[2] leases, KEYS[3] created, then one key per claim; ARGV stop_id,
# lease_until, created_at, the number of claims n, n holder/ttl-in-ms pairs, then the entry's
# field/value pairs. Takes the claims in order; at one already held, returns {its position,
# its holder} and writes nothing more. Else replaces a kept finished entry of the same id, and
# its expiry, and returns 0.
_BEGIN = """
local n = tonumber(ARGV[4])
for i = 1, n do
  if not redis.call('SET', KEYS[3 + i], ARGV[3 + 2 * i], 'NX', 'PX', ARGV[4 + 2 * i]) then
    return {i, redis.call('GET', KEYS[3 + i])}
  end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 5 + 2 * n))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 0
"""

# KEYS[1] entry, KEYS[2] leases; ARGV stop_id, owner, lease_until, then field/value pairs.
_UPDATE = """
local current = redis.call('HMGET', KEYS[1], 'owner', 'finished_at')
if current[1] ~= ARGV[2] or tonumber(current[2]) ~= 0 then return 0 end
redis.call('HSET', KEYS[1], 'lease_until', ARGV[3], unpack(ARGV, 4))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
"""

# KEYS[1] entry, KEYS[2] leases; ARGV stop_id, owner, outcome, detail, finished_at, keep ms.
_FINISH = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'step', 'finished', 'outcome', ARGV[3], 'detail', ARGV[4],
           'finished_at', ARGV[5], 'response_url', '')
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

# KEYS[1] leases; ARGV now, owner, lease_until, limit, entry key prefix.
# Returns the taken entries, each as HGETALL's flat field/value list.
_TAKE_ORPHANS = """
local taken = {}
for _, stop_id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1],
                                    'LIMIT', 0, ARGV[4])) do
  local key = ARGV[5] .. stop_id
  local current = redis.call('HMGET', key, 'owner', 'finished_at')
  if current[1] and tonumber(current[2]) == 0 then
    redis.call('HSET', key, 'owner', ARGV[2], 'lease_until', ARGV[3],
               'recovered_from', current[1])
    redis.call('ZADD', KEYS[1], ARGV[3], stop_id)
    taken[#taken + 1] = redis.call('HGETALL', key)
  else
    redis.call('ZREM', KEYS[1], stop_id)
  end
end
return taken
"""

_NEVER = 1e300  # a creation time no entry has: recent() since it finds nothing
# KEYS[1] created; ARGV since, entry key prefix. Drops index members whose entry expired.
_RECENT = """
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


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _entry(flat: Sequence[str]) -> JournalEntry:
    return JournalEntry.from_record(dict(zip(flat[::2], flat[1::2], strict=True)))


class RedisStore:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = PREFIX,
        timeout: float = TIMEOUT_SECONDS,
        keep_finished: float = KEEP_FINISHED,
    ) -> None:
        """Nothing is connected until the first call. ValueError if ``url`` is not a Redis URL
        (the message does not repeat the URL: it may hold a password)."""
        try:
            pool = BlockingConnectionPool.from_url(
                url,
                max_connections=MAX_CONNECTIONS,
                timeout=POOL_WAIT_SECONDS,  # waiting for a free connection is bounded too
                decode_responses=True,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
                # RESP2: with RESP3, redis-py skips its check that a pooled connection is
                # still open (it expects server pushes), so the first call after a Redis
                # restart would fail instead of reconnecting.
                protocol=2,
            )
            self._redis: Redis = Redis.from_pool(pool)
        except ValueError as exc:
            raise ValueError(f"not a usable Redis URL: {exc}") from None
        self._keep_finished = keep_finished
        self._claims = prefix + "claim:"
        self._entries = prefix + "stop:"
        self._leases = prefix + "leases"
        self._created = prefix + "created"
        self._claim = self._redis.register_script(_CLAIM)
        self._release = self._redis.register_script(_RELEASE)
        self._begin = self._redis.register_script(_BEGIN)
        self._update = self._redis.register_script(_UPDATE)
        self._finish = self._redis.register_script(_FINISH)
        self._take_orphans = self._redis.register_script(_TAKE_ORPHANS)
        self._recent = self._redis.register_script(_RECENT)

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self._claims.removesuffix('claim:')!r})"

    async def claim(self, key: str, holder: str, ttl: float) -> str | None:
        require_storable(key=key, holder=holder)
        held = await self._call(
            "claim", lambda: self._claim([self._claims + key], [holder, _milliseconds(ttl)])
        )
        return None if held is None else str(held)

    async def release(self, key: str, holder: str) -> None:
        require_storable(key=key, holder=holder)
        await self._call("release", lambda: self._release([self._claims + key], [holder]))

    async def begin(
        self, entry: JournalEntry, owner: str, lease: float, claims: Sequence[Claim] = ()
    ) -> Taken | None:
        entry = entry.with_changes(owner=owner, lease_until=time.time() + lease)
        record = entry.to_record()
        for claim in claims:
            require_storable(key=claim.key, holder=claim.holder)
        holds = [text for c in claims for text in (c.holder, str(_milliseconds(c.ttl)))]
        pairs = [text for field in record.items() for text in field]
        args = [
            entry.stop_id,
            record["lease_until"],
            record["created_at"],
            str(len(claims)),
            *holds,
            *pairs,
        ]
        keys = [
            self._entries + entry.stop_id,
            self._leases,
            self._created,
            *(self._claims + c.key for c in claims),
        ]
        answer = await self._call("begin", lambda: self._begin(keys, args))
        if answer == 0:
            return None
        try:
            position, holder = answer
            return Taken(claims[int(position) - 1].key, str(holder))
        except (TypeError, ValueError, IndexError):
            STORE_ERRORS.labels("begin").inc()
            raise StoreUnavailable("Redis begin: unreadable answer") from None

    async def update(self, stop_id: str, owner: str, lease: float, **changes: str) -> bool:
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        require_storable(stop_id=stop_id, owner=owner, **changes)
        pairs = [text for change in changes.items() for text in change]
        args = [stop_id, owner, str(time.time() + lease), *pairs]
        keys = [self._entries + stop_id, self._leases]
        return bool(await self._call("update", lambda: self._update(keys, args)))

    async def finish(self, stop_id: str, owner: str, outcome: str, detail: str = "") -> bool:
        require_storable(stop_id=stop_id, owner=owner, outcome=outcome, detail=detail)
        keep = _milliseconds(self._keep_finished)
        args = [stop_id, owner, outcome, detail, str(time.time()), str(keep)]
        keys = [self._entries + stop_id, self._leases]
        return bool(await self._call("finish", lambda: self._finish(keys, args)))

    async def take_orphans(self, owner: str, lease: float, limit: int = 10) -> list[JournalEntry]:
        require_storable(owner=owner)
        if limit <= 0:
            return []
        now = time.time()
        args = [str(now), owner, str(now + lease), str(limit), self._entries]
        taken = await self._call("take_orphans", lambda: self._take_orphans([self._leases], args))
        return self._entries_from("take_orphans", taken)

    async def recent(self, since: float) -> list[JournalEntry]:
        found = await self._call(
            "recent", lambda: self._recent([self._created], [since, self._entries])
        )
        entries = self._entries_from("recent", found)
        return sorted(entries, key=lambda e: e.created_at, reverse=True)

    async def prune(self) -> None:
        """Finished entries and claims expire by themselves (PEXPIRE, PX): what is left is
        the ``created`` index's members whose entry expired, which ``recent`` drops as it
        reads; run it asking for nothing newer than :data:`_NEVER`, for that alone."""
        await self._call("prune", lambda: self._recent([self._created], [_NEVER, self._entries]))

    async def ping(self) -> None:
        await self._call("ping", self._redis.ping)

    async def aclose(self) -> None:
        await self._redis.aclose()

    def _entries_from(self, operation: str, answer: Any) -> list[JournalEntry]:
        try:
            return [_entry(flat) for flat in answer]
        except (StoreUnavailable, TypeError, ValueError):
            STORE_ERRORS.labels(operation).inc()
            raise StoreUnavailable(f"Redis {operation}: unreadable journal entry") from None

    async def _call(self, operation: str, command: Callable[[], Awaitable[T]]) -> T:
        """Run one command; every failure becomes StoreUnavailable, counted."""
        try:
            return await command()
        except (RedisError, OSError, UnicodeDecodeError) as exc:
            STORE_ERRORS.labels(operation).inc()
            raise StoreUnavailable(f"Redis {operation}: {type(exc).__name__}: {exc}") from exc
