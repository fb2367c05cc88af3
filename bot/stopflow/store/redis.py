"""A state store in Redis: what several replicas share (``STOPLIVE_REDIS_URL`` or ``REDIS_URL``).

Layout, all under one prefix: a claim is a string set with ``NX`` and an expiry; a journal
entry is one hash per stop; ``leases`` is a sorted set of the unfinished stops by lease
deadline (what a take-over scans) and ``created`` one of every kept stop by creation time
(what ``recent`` reads). Every check-and-set is a Lua script, which Redis runs atomically, so
exactly one replica wins a claim or takes over an orphan (the scripts reach entries by name,
so this is for a standalone Redis, not Redis Cluster). Lease deadlines and expiries are on
Redis's clock (``TIME`` inside the scripts), so replicas' clocks need not agree.

Redis must keep what it is given: with neither AOF nor RDB a restart empties it, and an
eviction policy may drop claims. Stops in flight survive that (the supervisor writes its
entry back); :meth:`RedisStore.caveats` says what to fix.

Fail closed, and never hang: each socket operation is bounded by ``timeout`` and redis-py's
own retries are off (a retried ``claim`` whose first answer was lost would report its own hold
as someone else's), so a call fails within about two timeouts. The pool drops a connection
that failed and opens a new one on the next call: the store carries on once Redis is back.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.exceptions import OutOfMemoryError, ReadOnlyError, RedisError, ResponseError

from bot.metrics import STORE_ERRORS
from bot.stopflow.store.base import (
    UPDATABLE,
    Claim,
    JournalEntry,
    Ownership,
    StoreRefusesWrites,
    StoreUnavailable,
    Taken,
    entry_key,
    require_storable,
)
from bot.stopflow.store.memory import KEEP_FINISHED
from bot.stopflow.store.redis_scripts import (
    BEGIN,
    CLAIM,
    ELSEWHERE,
    FINISH,
    HOLD,
    MISSING,
    NEVER,
    OWNED,
    RECENT,
    RELEASE,
    TAKE_ORPHANS,
    UPDATE,
)

TIMEOUT_SECONDS = 1.0
# Connections one replica opens at most. Callers beyond them wait for a free one (each store
# call holds it for a round trip, well under a millisecond) instead of failing: redis-py's
# default pool refuses the 101st concurrent call outright, which under a 200-click burst
# refused half the stops (bench/replicas.py).
MAX_CONNECTIONS = 16
POOL_WAIT_SECONDS = 5.0  # a burst queues behind them; a Redis that is down fails at connect
PREFIX = "stoplive:"
HEALTH_KEY_MS = 10_000  # the health probe's key expires on its own: nothing to clean up
CLOCK_WARN_SECONDS = 3.0  # a replica's clock this far from Redis's is worth a warning

T = TypeVar("T")

_OWNERSHIP = {OWNED: Ownership.OWNED, MISSING: Ownership.MISSING, ELSEWHERE: Ownership.ELSEWHERE}


# Query options redis-py lets a URL set over what the store passes (the URL wins), and that
# the store's promises rest on: bounded calls (a long socket_timeout is a hang), no retries (a
# retried claim whose first answer was lost names its own hold as someone else's), the pool's
# size and wait, RESP2 (see RedisStore).
STORE_OWNS = frozenset(
    {
        "socket_timeout",
        "socket_connect_timeout",
        "retry_on_timeout",
        "retry_on_error",
        "max_connections",
        "timeout",
        "protocol",
    }
)


# What else a URL may set: redis-py hands every query option to the connection it opens, so
# one it does not take (a typo, ``?retry=1``, an ``ssl_*`` option on a plain ``redis://``)
# passed start-up and then made every store call a TypeError. The rest are refused up front.
URL_OPTIONS = frozenset({"db", "client_name", "health_check_interval", "socket_keepalive"})
TLS_URL_OPTIONS = frozenset(
    {
        "ssl_cert_reqs",
        "ssl_ca_certs",
        "ssl_ca_path",
        "ssl_certfile",
        "ssl_keyfile",
        "ssl_password",
        "ssl_check_hostname",
        "ssl_min_version",
        "ssl_ciphers",
    }
)


def redis_url_problem(url: str) -> str | None:
    """Why redis-py would misread ``url``, or None. A query value it cannot parse
    (``?socket_timeout=abc``) raised only once the store was built, as a traceback; a database
    part that is not a number (``/abc``) it silently reads as database 0; an option in
    :data:`STORE_OWNS` would quietly undo what keeps a store call short and once-only, and
    one outside :data:`URL_OPTIONS` (and, for ``rediss://``, :data:`TLS_URL_OPTIONS`) would
    fail every call. Never repeats the URL (it may hold a password)."""
    try:
        parse_url(url)  # type: ignore[no-untyped-call]
    except ValueError as exc:
        return str(exc).replace("connection URL", "the URL").rstrip(".")
    parts = urlsplit(url)
    given = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if owned := sorted(STORE_OWNS & given):
        return (
            f"?{owned[0]}= is set by stoplive itself (calls answer within about a second and "
            "are never retried, so a Redis that stops answering fails closed fast); remove it "
            "from the URL"
        )
    allowed = URL_OPTIONS | (TLS_URL_OPTIONS if parts.scheme == "rediss" else frozenset())
    if unknown := sorted(given - allowed):
        return (
            f"?{unknown[0]}= is not an option stoplive passes to Redis"
            + ("" if parts.scheme == "rediss" else " (ssl_* options need rediss://)")
            + f"; it takes {', '.join(sorted(allowed))}"
        )
    database = parts.path.removeprefix("/")
    if parts.scheme != "unix" and database and not database.isdigit():
        return "the database (the part after the last /) must be a number, like /0"
    return _tls_problem(url) if parts.scheme == "rediss" else None


def _tls_problem(url: str) -> str | None:
    """Why the ``ssl_*`` values cannot make a TLS context (a misspelt flag, a TLS version
    Python does not know, a CA file that is not there), or None. redis-py builds the context
    only at the first call, so a bad value started the bot and failed every call as "store
    unavailable": an outage where a refusal to start says what to fix. Builds the context
    without connecting; the message names the value, never the URL."""
    try:
        connection = BlockingConnectionPool.from_url(url).make_connection()  # type: ignore[no-untyped-call]
        context = getattr(connection, "ssl_context", None)  # redis-py's RedisSSLContext
        if context is not None:
            context.get()
    except (RedisError, ValueError, TypeError, OSError) as exc:
        return f"its ssl_* options cannot make a TLS connection ({exc})"
    return None


def _refuses_writes(exc: BaseException) -> bool:
    """Redis answered, and the answer is that it will not write: out of memory under
    ``noeviction``, or a read-only replica. Inside a script the error arrives as the script's
    (a ResponseError quoting ``-OOM`` or ``-READONLY``), so the text is read too."""
    if isinstance(exc, OutOfMemoryError | ReadOnlyError):
        return True
    return isinstance(exc, ResponseError) and any(
        f"-{code} " in str(exc) for code in ("OOM", "READONLY")
    )


def _config_caveats(config: Mapping[str | None, str | None], role: str) -> list[str]:
    """What CONFIG GET and ROLE said that may lose or refuse what stoplive writes."""
    found: list[str] = []
    if config.get("appendonly") != "yes" and not (config.get("save") or "").strip():
        found.append(
            "keeps nothing on disk (appendonly no, no RDB save): a restart forgets every claim "
            "and journal entry; stops in flight carry on and write theirs back, but a "
            "confirmation clicked again meanwhile may stop again. Set appendonly yes"
        )
    policy = config.get("maxmemory-policy")
    if config.get("maxmemory") not in ("0", None) and policy != "noeviction":
        found.append(
            f"may evict keys when full (maxmemory-policy {policy}): claims and journal entries "
            "would vanish. Set maxmemory-policy noeviction (a full Redis then refuses writes, "
            "and stoplive refuses stops and fails /healthz)"
        )
    if role != "master":
        found.append(
            f"is a {role}, not the primary: writes are refused or lost. Point "
            "STOPLIVE_REDIS_URL at the primary"
        )
    return found


def clock_words(offset: float) -> str:
    """This host's clock against Redis's, for ``check`` and the log."""
    side = "behind" if offset > 0 else "ahead of"
    return (
        f"this host's clock is {abs(offset):.0f} s {side} Redis's: leases and claims use "
        "Redis's clock, so stops are safe, but times this replica shows are off. Set the "
        "clock right (NTP)"
    )


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
        problem = redis_url_problem(url)
        if problem is not None:
            raise ValueError(f"not a usable Redis URL: {problem}")
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
        self._health = prefix + "health"
        self._notes = prefix + "note:"
        self._claim = self._redis.register_script(CLAIM)
        self._release = self._redis.register_script(RELEASE)
        self._hold = self._redis.register_script(HOLD)
        self._begin = self._redis.register_script(BEGIN)
        self._update = self._redis.register_script(UPDATE)
        self._finish = self._redis.register_script(FINISH)
        self._take_orphans = self._redis.register_script(TAKE_ORPHANS)
        self._recent = self._redis.register_script(RECENT)

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

    async def hold(self, key: str, holder: str, ttl: float) -> str | None:
        require_storable(key=key, holder=holder)
        held = await self._call(
            "hold", lambda: self._hold([self._claims + key], [holder, _milliseconds(ttl)])
        )
        return None if held is None else str(held)

    async def put_note(self, key: str, text: str, ttl: float) -> None:
        require_storable(key=key, text=text)
        await self._call(
            "put_note", lambda: self._redis.set(self._notes + key, text, px=_milliseconds(ttl))
        )

    async def get_note(self, key: str) -> str | None:
        require_storable(key=key)
        found = await self._call("get_note", lambda: self._redis.get(self._notes + key))
        return None if found is None else str(found)

    async def begin(
        self, entry: JournalEntry, owner: str, lease: float, claims: Sequence[Claim] = ()
    ) -> Taken | None:
        record = entry.with_changes(owner=owner).to_record()  # lease_until: Redis's clock
        for claim in claims:
            require_storable(key=claim.key, holder=claim.holder)
        holds = [text for c in claims for text in (c.holder, str(_milliseconds(c.ttl)))]
        pairs = [text for field in record.items() for text in field]
        args = [
            entry.stop_id,
            str(lease),
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
        if isinstance(answer, str):  # the lease_until it wrote
            return None
        try:
            position, holder = answer
            if int(position) == 0:
                return Taken(entry_key(entry.stop_id), str(holder))
            return Taken(claims[int(position) - 1].key, str(holder))
        except (TypeError, ValueError, IndexError):
            STORE_ERRORS.labels("begin").inc()
            raise StoreUnavailable("Redis begin: unreadable answer") from None

    async def update(self, stop_id: str, owner: str, lease: float, **changes: str) -> Ownership:
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        require_storable(stop_id=stop_id, owner=owner, **changes)
        pairs = [text for change in changes.items() for text in change]
        args = [stop_id, owner, str(lease), *pairs]
        keys = [self._entries + stop_id, self._leases]
        return self._ownership(
            "update", await self._call("update", lambda: self._update(keys, args))
        )

    async def finish(
        self,
        stop_id: str,
        owner: str,
        outcome: str,
        detail: str = "",
        release: tuple[str, str] | None = None,
    ) -> Ownership:
        require_storable(stop_id=stop_id, owner=owner, outcome=outcome, detail=detail)
        keep = _milliseconds(self._keep_finished)
        args = [stop_id, owner, outcome, detail, str(keep)]
        keys = [self._entries + stop_id, self._leases]
        if release is not None:
            require_storable(key=release[0], holder=release[1])
            keys.append(self._claims + release[0])
            args.append(release[1])
        return self._ownership(
            "finish", await self._call("finish", lambda: self._finish(keys, args))
        )

    async def take_orphans(self, owner: str, lease: float, limit: int = 10) -> list[JournalEntry]:
        require_storable(owner=owner)
        if limit <= 0:
            return []
        args = [owner, str(lease), str(limit), self._entries]
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
        reads; run it asking for nothing newer than ``NEVER``, for that alone."""
        await self._call("prune", lambda: self._recent([self._created], [NEVER, self._entries]))

    async def ping(self) -> None:
        """A write with a short expiry, not a PING: a Redis over ``maxmemory`` or a read-only
        replica answers PING but refuses every claim, so a PING alone kept such a replica in
        a load balancer's rotation."""
        await self._call("ping", lambda: self._redis.set(self._health, "1", px=HEALTH_KEY_MS))

    async def clock_offset(self) -> float:
        """Seconds Redis's clock is ahead of this process's (negative: behind), to within half
        a round trip. Leases are on Redis's clock, so this matters only for what people read
        (and says something is wrong with this host's time)."""
        before = time.time()
        seconds, microseconds = await self._call("time", self._redis.time)
        return seconds + microseconds / 1e6 - (before + time.time()) / 2

    async def caveats(self) -> list[str]:
        found: list[str] = []
        try:
            config = await self._call("config", self._redis.config_get)  # one pattern in 6.2
            role = str((await self._call("role", self._redis.role))[0])
        except StoreUnavailable as exc:
            if not isinstance(exc.__cause__, ResponseError):  # unreachable: not a caveat
                raise
            found.append(
                "cannot read its configuration (CONFIG or ROLE refused): make sure it persists "
                "what it is given (appendonly yes, or RDB snapshots), evicts nothing "
                "(maxmemory-policy noeviction) and is the primary"
            )
        else:
            found += _config_caveats(config, role)
        offset = await self.clock_offset()
        if abs(offset) > CLOCK_WARN_SECONDS:
            found.append(clock_words(offset))
        return found

    async def aclose(self) -> None:
        await self._redis.aclose()

    def _entries_from(self, operation: str, answer: Any) -> list[JournalEntry]:
        try:
            return [_entry(flat) for flat in answer]
        except (StoreUnavailable, TypeError, ValueError):
            STORE_ERRORS.labels(operation).inc()
            raise StoreUnavailable(f"Redis {operation}: unreadable journal entry") from None

    def _ownership(self, operation: str, answer: object) -> Ownership:
        try:
            return _OWNERSHIP[answer]  # type: ignore[index]
        except (KeyError, TypeError):
            STORE_ERRORS.labels(operation).inc()
            raise StoreUnavailable(f"Redis {operation}: unreadable answer") from None

    async def _call(self, operation: str, command: Callable[[], Awaitable[T]]) -> T:
        """Run one command; every failure becomes StoreUnavailable (StoreRefusesWrites when
        Redis answered that it will not write), counted."""
        try:
            return await command()
        except (RedisError, OSError, UnicodeDecodeError) as exc:
            STORE_ERRORS.labels(operation).inc()
            message = f"Redis {operation}: {type(exc).__name__}: {exc}"
            if _refuses_writes(exc):
                raise StoreRefusesWrites(message) from exc
            raise StoreUnavailable(message) from exc
