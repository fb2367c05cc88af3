"""How stoplive meets Slack: an aiohttp server (HTTP mode) or a Socket Mode connection, and a
shutdown that lets confirmed stops finish and post their outcome first.

Every request is checked here before Bolt sees it (:mod:`bot.inbound`); a refusal is one log
line with a fixed reason and a size, never the body.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot import metrics
from bot.app import Stoplive
from bot.config import SLACK_RESPONSE_HOSTS, ConfigError
from bot.inbound import MAX_BODY, Accepted, Refusal, check_signature, sort_body
from bot.listeners.payloads import CHECKED, Malformed, Ours, sort_event, sort_payload

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
            return refuse(Refusal(413, "too_large"), request.content_length or MAX_BODY)
        headers = request.headers
        refusal = check_signature(
            signing_secret,
            body,
            headers.get("X-Slack-Request-Timestamp"),
            headers.get("X-Slack-Signature"),
            clock(),
        )
        verdict = refusal or sort_body(body, request.content_type, response_hosts)
        if isinstance(verdict, Refusal):
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
    application = web.Application(client_max_size=MAX_BODY)
    application.router.add_post(EVENTS_PATH, events)
    application.router.add_get("/healthz", healthz)
    application.router.add_get("/metrics", prometheus)
    return application


def refuse(refusal: Refusal, size: int) -> web.Response:
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


class GuardedSocketModeClient(SocketModeClient):
    """slack_sdk's Socket Mode client, except that a message Slack would never send (text that
    is not JSON, an envelope whose payload is not an object) is logged in one line (and acked,
    if it has an envelope id) instead of raising inside the SDK with a traceback."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the SDK fires and forgets listener runs; holding them keeps them from being collected
        self._listening: set[asyncio.Future[None]] = set()

    async def process_message(self) -> None:
        raw = await self.message_queue.get()
        if raw is None:
            return
        try:
            message = json.loads(raw) if raw.startswith("{") else {}
        except (ValueError, RecursionError):
            ignored("not_json", len(raw))
            return
        self._listening.add(task := asyncio.ensure_future(self.run_message_listeners(message, raw)))
        task.add_done_callback(self._listening.discard)

    async def run_message_listeners(self, message: dict[str, Any], raw_message: str) -> None:
        envelope_id = message.get("envelope_id")
        if envelope_id is not None and not isinstance(message.get("payload"), dict):
            ignored("payload_not_an_object", len(raw_message))
            if isinstance(envelope_id, str):
                await self.send_socket_mode_response({"envelope_id": envelope_id})
            return
        await super().run_message_listeners(message, raw_message)


def ignored(reason: str, size: int, envelope_type: object = None) -> None:
    metrics.REJECTED_REQUESTS.labels(reason).inc()
    fields: dict[str, object] = {"reason": reason, "bytes": size}
    if envelope_type is not None:
        fields["envelope_type"] = str(envelope_type)[:40]
    log.warning("acked a Socket Mode envelope without handling it", extra=fields)


class EnvelopeHandler(AsyncSocketModeHandler):
    """Socket Mode with the same checks as HTTP: an envelope whose payload is not a
    well-formed command, click or event of ours is acked at once and logged in one line."""

    def __init__(
        self,
        app: AsyncApp,
        app_token: str,
        response_hosts: frozenset[str] = SLACK_RESPONSE_HOSTS,
    ) -> None:  # as Bolt's, with the guard
        self.app = app
        self.response_hosts = response_hosts
        self.app_token = app_token
        self.client = GuardedSocketModeClient(
            app_token=app_token, logger=app.logger, web_client=app.client
        )
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.time()
        verdict = (
            sort_event(req.payload)
            if req.type == "events_api"
            else sort_payload(req.payload, self.response_hosts)
        )
        if not isinstance(verdict, Ours):
            reason = verdict.reason if isinstance(verdict, Malformed) else "not_handled"
            ignored(reason, len(json.dumps(req.payload)), req.type)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        checked = SocketModeRequest(
            type=req.type,
            envelope_id=req.envelope_id,
            payload=verdict.canonical,
            accepts_response_payload=req.accepts_response_payload,
        )
        bolt_request = AsyncBoltRequest(
            body=verdict.canonical,
            mode="socket_mode",
            headers=build_headers(checked),
            context={CHECKED: verdict.checked},
        )
        response = await self.app.async_dispatch(bolt_request)
        await send_async_response(client, checked, response, started)


_SLACK_ERROR = re.compile(r"^[a-z_]{1,60}$")


async def socket_url(client: AsyncWebClient, app_token: str) -> str | None:
    """A Socket Mode URL, or None to let the SDK retry (network trouble, rate limit). A token
    Slack refuses is fatal: retrying it for ever would look like a working bot."""
    try:
        response = await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error == "ratelimited":
            return None
        named = error if isinstance(error, str) and _SLACK_ERROR.match(error) else "refused"
        raise ConfigError(
            f"SLACK_APP_TOKEN: Slack refused it ({named}); set the app-level token "
            "(xapp-..., scope connections:write) from your app's Basic Information page"
        ) from None
    except (aiohttp.ClientError, OSError, TimeoutError):
        return None
    url = response.get("url")
    return url if isinstance(url, str) else None


class Transport:
    """Receives Slack's requests until :meth:`close`; ``port`` is set in HTTP mode."""

    def __init__(
        self,
        stoplive: Stoplive,
        *,
        drain_seconds: float = DRAIN_SECONDS,
        health: HealthCheck | None = None,
    ) -> None:
        self._stoplive = stoplive
        self._drain_seconds = drain_seconds
        self._health = health if health is not None else stoplive.health  # the state store
        self._runner: web.AppRunner | None = None
        self._socket: EnvelopeHandler | None = None
        self._takeovers: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self.port: int | None = None

    async def open(self) -> None:
        """Start taking requests, and finishing stops whose owner is gone (a replica that died,
        or this one before a restart). ConfigError if the port is taken or the app token is
        refused."""
        await self._take_requests()
        self._takeovers = asyncio.create_task(self._stoplive.workflow.run_takeovers(self._closing))

    async def _take_requests(self) -> None:
        settings = self._stoplive.settings
        bolt = self._stoplive.bolt
        if settings.use_socket_mode:
            assert settings.slack_app_token is not None
            app_token = settings.slack_app_token.get_secret_value()
            # apps.connections.open goes through the app's own client, so SLACK_API_URL holds
            url = await socket_url(bolt.client, app_token)
            self._socket = EnvelopeHandler(bolt, app_token, settings.slack_response_hosts)
            self._socket.client.wss_uri = url
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("stoplive connected to Slack in Socket Mode")
            return
        secret = settings.slack_signing_secret.get_secret_value()
        self._runner = web.AppRunner(
            web_app(bolt, secret, self._health, response_hosts=settings.slack_response_hosts),
            access_log=None,
            shutdown_timeout=HTTP_GRACE,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.stoplive_host, settings.port)
        try:
            await site.start()
        except OSError as exc:
            why = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise ConfigError(
                f"PORT: cannot listen on {settings.stoplive_host}:{settings.port} ({why}); "
                "set PORT to a free port"
            ) from None
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]
        log.info(
            "stoplive listening on http://%s:%s%s", settings.stoplive_host, self.port, EVENTS_PATH
        )

    async def close(self) -> None:
        """Stop taking requests first (Socket Mode: no reconnect, connection closed; HTTP: no
        new connections, acks in flight get HTTP_GRACE, idle and half-sent ones are cut), then
        let confirmed stops finish, cut short what cannot, and let go of everything. Safe to
        call after a failed or interrupted :meth:`open`."""
        self._closing.set()  # no new take-overs; one under way is a stop like any other
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
        if self._runner is not None:
            await self._runner.cleanup()
        background = self._stoplive.background
        takeovers = {self._takeovers} if self._takeovers is not None else set()
        drained, _ = await asyncio.gather(
            background.drain(self._drain_seconds), _settle(takeovers, self._drain_seconds)
        )
        for task in takeovers:
            task.cancel()  # a take-over still under way says what it knows, as a stop does
        await asyncio.gather(
            background.cancel(CANCEL_GRACE) if not drained else _settle(set(), 0),
            _settle(takeovers, CANCEL_GRACE),
        )
        if self._socket is not None or self.port is not None:
            done = "all stops finished" if drained else "some stops cut short"
            log.info("stoplive stopped (%s)", done)
        await self._stoplive.aclose()


async def _settle(tasks: set[asyncio.Task[None]], seconds: float) -> None:
    """Wait up to ``seconds`` for ``tasks`` to end (if there are any)."""
    if tasks:
        await asyncio.wait(tasks, timeout=seconds)
