"""Socket Mode: slack_sdk's aiohttp client, with stoplive's checks and its own reconnection.

The SDK reconnects on every close at once and for ever, and retries a refused token every 5 s
for ever: a server closing each connection right after ``hello`` made 10,543
``apps.connections.open`` calls and 31,629 log lines in 15 s, and a revoked token looked like a
bot still running. Here a lost connection opens a reconnection *episode*: tries spaced by
jittered exponential backoff, every request to reconnect that arrives meanwhile (a burst of
``disconnect`` envelopes, the SDK's watchdog, a close) merged into it, one log line for the
whole episode, and the backoff starting over only after a connection that lasted. A token
Slack refuses (now or at start-up) is fatal, never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
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
from bot.config import SLACK_RESPONSE_HOSTS, ConfigError
from bot.slack.payloads import CHECKED, Rejected, sort_event, sort_payload

log = logging.getLogger(__name__)
# The SDK logs every close, every try and every session at INFO (three lines a try): its
# warnings and errors are kept, the chatter is this module's one line per episode.
SDK_LOG = log.getChild("sdk")
SDK_LOG.setLevel(logging.WARNING)


@dataclass(frozen=True)
class Backoff:
    """When to try again after losing the connection (seconds)."""

    first: float = 1.0  # the first try's wait, halved at most: also merges a burst of requests
    cap: float = 30.0  # no wait is longer (Slack down for an hour: a try every 15-30 s)
    lasted: float = 60.0  # a connection this old ended its episode: the next loss starts over

    def delay(self, tries: int) -> float:
        """Full backoff with half jitter, so replicas dropped together do not come back together."""
        return min(self.cap, self.first * 2.0 ** min(tries, 30)) * random.uniform(0.5, 1.0)


RECONNECT = Backoff()
# Slack's errors that say "not now" rather than "not this token" (apps.connections.open)
_TRANSIENT = frozenset(
    {"ratelimited", "request_timeout", "internal_error", "fatal_error", "service_unavailable"}
)
_SLACK_ERROR = re.compile(r"^[a-z_]{1,60}$")


async def socket_url(client: AsyncWebClient, app_token: str) -> str | None:
    """A Socket Mode URL, or None to try again later (network trouble, rate limit, Slack's own
    trouble). A token Slack refuses is fatal, at start-up and after: retrying it for ever would
    look like a working bot."""
    try:
        response = await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error in _TRANSIENT:
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


def ignored(reason: str, size: int, envelope_type: object = None) -> None:
    metrics.REJECTED_REQUESTS.labels(reason).inc()
    fields: dict[str, object] = {"reason": reason, "bytes": size}
    if envelope_type is not None:
        fields["envelope_type"] = str(envelope_type)[:40]
    log.warning("acked a Socket Mode envelope without handling it", extra=fields)


class GuardedSocketModeClient(SocketModeClient):
    """slack_sdk's Socket Mode client, except that

    - a message Slack would never send (text that is not JSON, an envelope whose payload is not
      an object) is logged in one line (and acked, if it has an envelope id) instead of raising
      inside the SDK with a traceback;
    - every way the SDK asks for a new connection (a close, its watchdog, a ``disconnect``
      envelope) lands in :meth:`connect_to_new_endpoint`: one episode of backed-off tries;
    - :meth:`connect` is one try (the SDK's loops for ever, 5 s apart);
    - a refused token calls ``on_fatal`` with the ConfigError naming it.
    """

    def __init__(
        self,
        app_token: str,
        web_client: AsyncWebClient,
        on_fatal: Callable[[ConfigError], None],
        backoff: Backoff = RECONNECT,
    ) -> None:
        super().__init__(app_token=app_token, logger=SDK_LOG, web_client=web_client)
        self.backoff = backoff
        self._on_fatal = on_fatal
        # the SDK fires and forgets listener runs; holding them keeps them from being collected
        self._listening: set[asyncio.Future[None]] = set()
        self._reconnecting: asyncio.Task[None] | None = None
        self._connected_at: float | None = None  # time.monotonic() of the current connection
        self._tries = 0  # since the last connection that lasted
        self._in_episode = False  # a loss was logged; the next is logged only after one lasted

    # --- messages -------------------------------------------------------------------------

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
        if message.get("type") == "disconnect":
            reason = message.get("reason")  # warning, refresh_requested, too_many_websockets
            named = isinstance(reason, str) and _SLACK_ERROR.match(reason)
            self.reconnect(f"slack_{reason}" if named else "slack_asked")
            return
        envelope_id = message.get("envelope_id")
        if envelope_id is not None and not isinstance(message.get("payload"), dict):
            ignored("payload_not_an_object", len(raw_message))
            if isinstance(envelope_id, str):
                await self.send_socket_mode_response({"envelope_id": envelope_id})
            return
        await super().run_message_listeners(message, raw_message)

    # --- connecting -----------------------------------------------------------------------

    async def start(self) -> None:
        """The first connection: returns once connected (trying with backoff meanwhile);
        ConfigError if Slack refuses the token."""
        self._tries = 0
        await self._connect_with_backoff(wait_first=False)

    async def connect_to_new_endpoint(self, force: bool = False) -> None:
        """What the SDK calls on a close and from its watchdog: merged into one episode."""
        self.reconnect("closed")

    def reconnect(self, reason: str) -> None:
        """Start an episode of tries, unless one is under way (then this request is part of
        it). Logged once per episode; the backoff starts over only if the connection lost had
        lasted."""
        if self.closed or (self._reconnecting is not None and not self._reconnecting.done()):
            return
        lasted = self._connected_at is not None and (
            time.monotonic() - self._connected_at >= self.backoff.lasted
        )
        if lasted or not self._in_episode:
            self._tries = 0 if lasted else self._tries
            self._in_episode = True
            level = logging.INFO if reason.startswith("slack_") else logging.WARNING
            log.log(level, "reconnecting to Slack (Socket Mode)", extra={"reason": reason})
        self._reconnecting = asyncio.create_task(self._reconnect())

    async def _reconnect(self) -> None:
        try:
            await self._connect_with_backoff(wait_first=True)
        except ConfigError as exc:
            self._on_fatal(exc)

    async def _connect_with_backoff(self, wait_first: bool) -> None:
        while not self.closed:
            if wait_first:
                await asyncio.sleep(self.backoff.delay(self._tries))
            wait_first = True
            self._tries += 1
            if self.closed:
                return
            try:
                result = await self._try()
            except ConfigError:
                raise
            except Exception as exc:  # one failed try, whatever failed: the episode goes on
                log.debug("a Socket Mode try failed", extra={"error": type(exc).__name__})
                result = "failed"
            metrics.SOCKET_CONNECTS.labels(result).inc()
            if result == "connected":
                return

    async def _try(self) -> str:
        self.wss_uri = await socket_url(self.web_client, self.app_token)
        if self.wss_uri is None:
            return "no_url"
        await self.connect()
        return "connected"

    async def connect(self) -> None:
        """One try with ``wss_uri``: the previous session is closed first (Slack counts them,
        ``too_many_websockets``), then the SDK's receiver and watchdog are started on the new
        one, as the SDK's own connect does."""
        self.auto_reconnect_enabled = False  # closing the old one is no reason to reconnect
        old = self.current_session
        if old is not None and not old.closed:
            with contextlib.suppress(Exception):  # a broken session may fail to close
                await old.close()
        if self.aiohttp_client_session.closed:
            self.aiohttp_client_session = aiohttp.ClientSession()
        assert self.wss_uri is not None
        url, self.wss_uri = self.wss_uri, None  # a URL serves one connection
        self.current_session = await self.aiohttp_client_session.ws_connect(
            url,
            autoping=False,
            heartbeat=self.ping_interval,
            proxy=self.proxy,
            ssl=self.web_client.ssl if self.web_client.ssl is not None else True,
        )
        self._connected_at = time.monotonic()
        self.auto_reconnect_enabled = self.default_auto_reconnect_enabled
        self.stale = False
        self.last_ping_pong_time = None
        await self.current_session.ping(f"sdk-ping-pong:{time.time()}".encode())
        for task in (self.current_session_monitor, self.message_receiver):
            if task is not None:
                task.cancel()
        self.current_session_monitor = asyncio.ensure_future(self.monitor_current_session())
        self.message_receiver = asyncio.ensure_future(self.receive_messages())

    async def close(self) -> None:
        self.closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        await super().close()  # type: ignore[no-untyped-call]


class EnvelopeHandler(AsyncSocketModeHandler):
    """Socket Mode with the same checks as HTTP: an envelope whose payload is not a
    well-formed command, click or event of ours is acked at once and logged in one line."""

    def __init__(
        self,
        app: AsyncApp,
        client: GuardedSocketModeClient,
        response_hosts: frozenset[str] = SLACK_RESPONSE_HOSTS,
    ) -> None:  # as Bolt's, with the guarded client
        self.app = app
        self.response_hosts = response_hosts
        self.app_token = client.app_token
        self.client = client
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.time()
        verdict = (
            sort_event(req.payload)
            if req.type == "events_api"
            else sort_payload(req.payload, self.response_hosts)
        )
        if isinstance(verdict, Rejected):
            ignored(verdict.reason, len(json.dumps(req.payload)), req.type)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        checked = SocketModeRequest(
            type=req.type,
            envelope_id=req.envelope_id,
            payload=verdict.payload,
            accepts_response_payload=req.accepts_response_payload,
        )
        # Built here rather than by Bolt's run_async_bolt_app only to carry the checked model
        # in the context, as the HTTP transport does: one model, one validation a request.
        # Not a speed-up: 3.0 µs built here, 2.9 µs by Bolt; a second validation would cost
        # 3.6 µs (bench/README.md, "Kept only where users could feel it").
        bolt_request = AsyncBoltRequest(
            body=verdict.payload,
            mode="socket_mode",
            headers=build_headers(checked),
            context={CHECKED: verdict.checked},
        )
        response = await self.app.async_dispatch(bolt_request)
        await send_async_response(client, checked, response, started)
