"""HTTP connections held to a budget, so that slow or idle clients cannot starve Slack's requests.

aiohttp closes an idle keep-alive connection (its ``keepalive_timeout``, an hour by default)
but waits for ever on a client that sent part of a request and stalled: 300 connections that
sent headers and two bytes of a body were all still open 25 s later, and with a 256-file limit a
signed ``/stoplive`` then got no answer. So, around aiohttp's own protocol:

- a request gets :attr:`Limits.request_seconds` from its first byte until it is answered, or the
  connection is cut (Slack gives up after 3 s; the acks and ``/healthz`` take a few at most);
- an idle keep-alive connection is closed after :attr:`Limits.idle_seconds` (aiohttp's timer);
- at most :attr:`Limits.max_connections` are open at once, half the file limit (the other half
  is for a batch of accepts, the Slack and MetaStudio clients, the store and the logs); one
  more is answered 503 and closed at once.

No aiohttp internals are touched: :class:`GuardedSite` is an ``aiohttp.web.BaseSite`` whose
server wraps each of aiohttp's protocols in a :class:`GuardedConnection`, and
:func:`answered` (a middleware) tells the wrapper when a request has been answered.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from bot import metrics

log = logging.getLogger(__name__)
MAX_CONNECTIONS = 1000  # far more than Slack ever opens; a cap on any file limit
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n"
    b"Retry-After: 1\r\n\r\n"
)


def _file_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1 << 20 if soft == resource.RLIM_INFINITY else soft


def connection_cap() -> int:
    """Half the process's file limit (at least 16), at most :data:`MAX_CONNECTIONS`."""
    return max(16, min(MAX_CONNECTIONS, _file_limit() // 2))


def accept_batch() -> int:
    """The listen backlog, an eighth of the file limit (at most aiohttp's 128): asyncio accepts
    up to that many connections at once before any is closed, so cap + batch must leave files
    for the rest (with 256 files and a batch of 128, accept() failed with EMFILE)."""
    return max(8, min(128, _file_limit() // 8))


@dataclass(frozen=True)
class Limits:
    request_seconds: float = 15.0  # from a request's first byte to its answer
    idle_seconds: float = 75.0  # longer than load balancers keep idle ones (AWS: 60 s)
    max_connections: int = field(default_factory=connection_cap)
    backlog: int = field(default_factory=accept_batch)


class GuardedSite(web.BaseSite):
    """Like ``web.TCPSite``, with every connection a :class:`GuardedConnection` and at most
    ``limits.max_connections`` of them open."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, limits: Limits) -> None:
        super().__init__(runner, backlog=limits.backlog)
        self._host, self._port, self._limits = host, port, limits
        self.open: set[GuardedConnection] = set()
        self._refusing = False  # since the cap was reached: logged once per episode

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def port(self) -> int:
        """The port listened on (the one chosen when asked for 0)."""
        if self._server is not None and isinstance(self._server, asyncio.Server):
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._connection, self._host, self._port, backlog=self._backlog
        )

    def _connection(self) -> asyncio.Protocol:
        if len(self.open) >= self._limits.max_connections:
            if not self._refusing:
                self._refusing = True
                log.warning(
                    "refusing new HTTP connections: %d are open, the most this process's "
                    "file limit allows",
                    len(self.open),
                    extra={"reason": "too_many_connections"},
                )
            return Refused()
        self._refusing = False
        server = self._runner.server
        assert server is not None
        return GuardedConnection(server(), self)

    @property
    def limits(self) -> Limits:
        return self._limits


class GuardedConnection(asyncio.Protocol):
    """aiohttp's protocol for one connection, cut if a request is not answered in time."""

    def __init__(self, inner: asyncio.Protocol, site: GuardedSite) -> None:
        self._inner = inner
        self._site = site
        self._transport: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._site.open.add(self)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.started()  # the first byte of a request
        self._inner.data_received(data)

    def started(self) -> None:
        """A request is under way: it has until its deadline to be answered. Called at its
        first byte, and again as its handler starts, for a request that came in the same
        bytes as the one answered before it (pipelined): answering that one stopped the
        clock, and no byte may follow to start it again."""
        if self._deadline is None:
            loop = asyncio.get_running_loop()
            self._deadline = loop.call_later(self._site.limits.request_seconds, self._too_slow)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.answered()
        self._site.open.discard(self)
        self._inner.connection_lost(exc)

    def answered(self) -> None:
        """The request under way has its answer: the next byte starts the next deadline."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        metrics.REJECTED_REQUESTS.labels("too_slow").inc()
        log.info(
            "cut a connection whose request was not whole in time",
            extra={"reason": "too_slow", "seconds": self._site.limits.request_seconds},
        )
        if self._transport is not None:
            self._transport.abort()


class Refused(asyncio.Protocol):
    """A connection over the cap: 503 and closed, nothing read."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        metrics.REJECTED_REQUESTS.labels("too_many_connections").inc()
        transport.write(_BUSY)
        transport.close()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def answered(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tell the connection's guard that a request has begun, and that it has an answer
    (whatever the handler did)."""
    guard = request.transport.get_protocol() if request.transport is not None else None
    if isinstance(guard, GuardedConnection):
        guard.started()
    try:
        return await handler(request)
    finally:
        if isinstance(guard, GuardedConnection):
            guard.answered()
