"""How stoplive meets Slack: an aiohttp server (HTTP mode) or a Socket Mode connection, and a
shutdown that lets confirmed stops finish and post their outcome first.

Every request is checked here before Bolt sees it (:mod:`bot.slack.inbound`); a refusal is one log
line with a fixed reason and a size, never the body.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot import metrics
from bot.background import Background
from bot.config import SLACK_RESPONSE_HOSTS, ConfigError, Settings
from bot.slack.connections import GuardedSite, Limits, answered
from bot.slack.inbound import MAX_BODY, check_signature, sort_body
from bot.slack.payloads import CHECKED, Accepted, Rejected
from bot.slack.socket_mode import RECONNECT, Backoff, EnvelopeHandler, GuardedSocketModeClient
from bot.slack.tokens import BotTokenWatch

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
# Heroku and Kubernetes allow 30 s between SIGTERM and SIGKILL: HTTP_GRACE for acks already in
# flight (Slack gives up after 3 s anyway), DRAIN_SECONDS for confirmed stops, CANCEL_GRACE for
# the stops cut short to say so in their channel.
HTTP_GRACE = 2.0
DRAIN_SECONDS = 20.0
CANCEL_GRACE = 5.0

HealthCheck = Callable[[], Awaitable[str | None]]
"""None when healthy, else the reason (e.g. the state store is unreachable)."""


class MalformedHttpInOneLine(logging.Filter):
    """aiohttp logs a request it cannot parse (bad chunking, a header line of garbage) at ERROR
    with a traceback and a piece of the input. That is the sender's fault, answered 400 by
    aiohttp already: one line with a reason and the status is all it is worth."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg, record.args = "refused a malformed HTTP request", None
            record.exc_info, record.exc_text = None, None
            record.levelno = min(record.levelno, logging.INFO)
            record.levelname = logging.getLevelName(record.levelno)
            record.reason, record.status = "bad_http", error.code
        return True


_MALFORMED_HTTP = MalformedHttpInOneLine()


def web_app(
    bolt: AsyncApp,
    signing_secret: str,
    health: HealthCheck | None = None,
    clock: Callable[[], float] = time.time,
    response_hosts: frozenset[str] = SLACK_RESPONSE_HOSTS,
) -> web.Application:
    """``POST /slack/events`` (commands, interactivity and the Events API), ``GET /healthz``,
    ``GET /metrics``."""

    async def events(request: web.Request) -> web.Response:
        started = time.monotonic()
        response = await answer(request)
        metrics.ACK_SECONDS.observe(time.monotonic() - started)
        return response

    async def answer(request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return refuse(Rejected(413, "too_large"), request.content_length or MAX_BODY)
        except ConnectionResetError:  # cut while sending it (connections.py said why)
            return web.Response(status=408)
        headers = request.headers
        refusal = check_signature(
            signing_secret,
            body,
            headers.get("X-Slack-Request-Timestamp"),
            headers.get("X-Slack-Signature"),
            clock(),
        )
        verdict = refusal or sort_body(body, request.content_type, response_hosts)
        if isinstance(verdict, Rejected):
            return refuse(verdict, len(body))
        return await dispatch(verdict)

    async def dispatch(accepted: Accepted) -> web.Response:
        if accepted.kind == "ssl_check":
            return web.Response()
        # Bolt gets the checked payload itself, as Socket Mode hands it over: encoding it
        # again for Bolt to parse again was a third of an ack's work (bench/burst.py). Bolt's
        # mode decides only whether Bolt verifies the signature (off: it was checked above,
        # over the raw bytes) and how lazy listeners copy a request (stoplive has none).
        bolt_request = AsyncBoltRequest(
            body=accepted.payload, mode="socket_mode", context={CHECKED: accepted.checked}
        )
        return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

    application = health_app(health)
    application.router.add_post(EVENTS_PATH, events)
    return application


def health_app(health: HealthCheck | None = None) -> web.Application:
    """``GET /healthz`` and ``GET /metrics``: all that is served in Socket Mode."""

    async def healthz(_: web.Request) -> web.Response:
        try:
            reason = await health() if health is not None else None
        except Exception:  # a probe must answer, whatever the check does; the body says little
            log.exception("health check failed")
            reason = "health_check_failed"
        if reason is not None:
            return web.json_response({"ok": False, "reason": reason}, status=503)
        return web.json_response({"ok": True})

    async def prometheus(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    logging.getLogger("aiohttp.server").addFilter(_MALFORMED_HTTP)
    application = web.Application(client_max_size=MAX_BODY, middlewares=[answered])
    application.router.add_get("/healthz", healthz)
    application.router.add_get("/metrics", prometheus)
    return application


def refuse(refusal: Rejected, size: int) -> web.Response:
    """One log line (fixed reason, size; nothing the sender wrote) and the status."""
    metrics.REJECTED_REQUESTS.labels(refusal.reason).inc()
    fields = {"reason": refusal.reason, "status": refusal.status, "bytes": size}
    if refusal.skew is not None:
        minutes = round(abs(refusal.skew) / 60)
        direction = "behind" if refusal.skew > 0 else "ahead of"
        log.warning(
            "refused a correctly signed Slack request as stale: this machine's clock is %d min "
            "%s Slack's (fix NTP; Slack's requests all fail until then)",
            minutes,
            direction,
            extra={**fields, "clock_skew_seconds": refusal.skew},
        )
    elif refusal.status == 401:
        log.info("refused an unsigned or badly signed request", extra=fields)
    else:
        log.warning("refused a signed Slack request", extra=fields)
    return web.Response(status=refusal.status)


class Takeovers(Protocol):
    async def run_takeovers(self, stop: asyncio.Event) -> None: ...
    async def run_stream_watch(self, stop: asyncio.Event) -> None: ...


class Servable(Protocol):
    """What the transport serves: the built app (``bot.app.Stoplive``), handed in so that
    nothing in the Slack edge imports the module that wires it."""

    @property
    def settings(self) -> Settings: ...
    @property
    def bolt(self) -> AsyncApp: ...
    @property
    def workflow(self) -> Takeovers: ...
    @property
    def background(self) -> Background: ...
    async def health(self) -> str | None: ...
    async def aclose(self) -> None: ...


class Transport:
    """Receives Slack's requests until :meth:`close`; ``port`` is set once listening (HTTP
    mode, and Socket Mode's /healthz and /metrics unless STOPLIVE_SOCKET_HEALTH is false)."""

    def __init__(
        self,
        stoplive: Servable,
        *,
        drain_seconds: float = DRAIN_SECONDS,
        health: HealthCheck | None = None,
        reconnect: Backoff = RECONNECT,
        limits: Limits | None = None,
    ) -> None:
        self._stoplive = stoplive
        self._drain_seconds = drain_seconds
        self._health = health if health is not None else stoplive.health  # the state store
        self._reconnect = reconnect
        self._limits = limits if limits is not None else Limits()
        self._runner: web.AppRunner | None = None
        self._socket: EnvelopeHandler | None = None
        self._takeovers: asyncio.Task[None] | None = None
        self._stream_watch: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None  # the bot token, for Slack's refusal
        self._closing = asyncio.Event()
        self._failed = asyncio.Event()
        self._failure: ConfigError | None = None
        self.port: int | None = None

    async def open(self) -> None:
        """Start taking requests, and finishing stops whose owner is gone (a replica that died,
        or this one before a restart). ConfigError if the port is taken or the app token is
        refused."""
        await self._take_requests()
        self._takeovers = asyncio.create_task(self._stoplive.workflow.run_takeovers(self._closing))
        self._stream_watch = asyncio.create_task(
            self._stoplive.workflow.run_stream_watch(self._closing)
        )
        for handler in self._stoplive.bolt.client.retry_handlers:
            if isinstance(handler, BotTokenWatch):
                self._watcher = asyncio.create_task(self._watch(handler))

    async def _watch(self, bot_token: BotTokenWatch) -> None:
        await bot_token.refused.wait()
        assert bot_token.refusal is not None
        self._fail(bot_token.refusal)

    async def failure(self) -> None:
        """Never returns; raises the ConfigError naming a token Slack refused after start-up
        (the process then ends as it would at start-up: retrying would look like a bot)."""
        await self._failed.wait()
        assert self._failure is not None
        raise self._failure

    def _fail(self, error: ConfigError) -> None:
        if self._failure is None:
            self._failure = error
            self._failed.set()

    async def _take_requests(self) -> None:
        settings = self._stoplive.settings
        bolt = self._stoplive.bolt
        if not settings.use_socket_mode:
            secret = settings.slack_signing_secret.get_secret_value()
            hosts = settings.slack_response_hosts
            await self._listen(web_app(bolt, secret, self._health, response_hosts=hosts))
            log.info(
                "stoplive listening on http://%s:%s%s",
                settings.stoplive_host,
                self.port,
                EVENTS_PATH,
            )
            return
        if settings.stoplive_socket_health:  # first: a taken PORT is said before connecting
            await self._listen(health_app(self._health))
        assert settings.slack_app_token is not None
        # apps.connections.open goes through the app's own client, so SLACK_API_URL holds
        client = GuardedSocketModeClient(
            settings.slack_app_token.get_secret_value(), bolt.client, self._fail, self._reconnect
        )
        self._socket = EnvelopeHandler(bolt, client, settings.slack_response_hosts)
        await client.start()
        served = f"; /healthz on http://{settings.stoplive_host}:{self.port}" if self.port else ""
        log.info("stoplive connected to Slack in Socket Mode%s", served)

    async def _listen(self, application: web.Application) -> None:
        settings = self._stoplive.settings
        self._runner = web.AppRunner(
            application,
            access_log=None,
            shutdown_timeout=HTTP_GRACE,
            keepalive_timeout=self._limits.idle_seconds,
        )
        await self._runner.setup()
        site = GuardedSite(self._runner, settings.stoplive_host, settings.port, self._limits)
        try:
            await site.start()
        except OSError as exc:
            why = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise ConfigError(
                f"PORT: cannot listen on {settings.stoplive_host}:{settings.port} ({why}); "
                "set PORT to a free port"
            ) from None
        self.port = site.port

    async def close(self) -> None:
        """Stop taking requests first (Socket Mode: no reconnect, connection closed; HTTP: no
        new connections, acks in flight get HTTP_GRACE, idle and half-sent ones are cut), then
        let confirmed stops finish, cut short what cannot, and let go of everything. Safe to
        call after a failed or interrupted :meth:`open`."""
        self._closing.set()  # no new take-overs; one under way is a stop like any other
        if self._watcher is not None:
            self._watcher.cancel()
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
        if self._runner is not None:
            await self._runner.cleanup()
        background = self._stoplive.background
        # the stream watch ends its poll (bounded) and gives its lease back, as a sweep ends
        takeovers = {t for t in (self._takeovers, self._stream_watch) if t is not None}
        drained, _ = await asyncio.gather(
            background.drain(self._drain_seconds), _settle(takeovers, self._drain_seconds)
        )
        for task in takeovers:
            task.cancel()  # a take-over still under way says what it knows, as a stop does
        await asyncio.gather(
            background.cancel(CANCEL_GRACE) if not drained else _settle(set(), 0),
            _settle(takeovers, CANCEL_GRACE),
        )
        if self._takeovers is not None:  # it was open
            done = "all stops finished" if drained else "some stops cut short"
            log.info("stoplive stopped (%s)", done)
        await self._stoplive.aclose()


async def _settle(tasks: set[asyncio.Task[None]], seconds: float) -> None:
    """Wait up to ``seconds`` for ``tasks`` to end (if there are any)."""
    if tasks:
        await asyncio.wait(tasks, timeout=seconds)
