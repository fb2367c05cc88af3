"""A Slack stand-in: the Web API methods stoplive calls, ``response_url`` endpoints, and a
Socket Mode websocket, all on one loopback port.

Web API calls and ``response_url`` posts are recorded for assertions; ``chat.postMessage``
can be told that the bot is not in a channel. The websocket side pushes envelopes the way
Slack does and collects the acks.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from bot.sandbox.standins import serve_on_loopback

WORKSPACE_URL = "https://acme.slack.com/"


@dataclass
class ApiCall:
    method: str
    args: dict[str, Any]
    token: str
    at: float = field(default_factory=time.monotonic)
    ts: str = ""  # the message's, for chat.postMessage and chat.update


@dataclass
class UrlPost:
    hook: str
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class SlackStandIn:
    def __init__(self, bot_token: str = "xoxb-test", app_token: str = "xapp-test") -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.api_calls: list[ApiCall] = []
        self.url_posts: list[UrlPost] = []
        self.refused_channels: dict[str, str] = {}  # channel -> error (e.g. not_in_channel)
        self.refuse_blocks = False  # refuse any message with blocks, as Slack does a bad one
        # fault injection: "chat.update", "chat.postMessage", "hooks" (any response_url) or
        # "hooks/<name>" (that one) -> how many of the next such requests to hang up on
        self.drops: dict[str, int] = {}
        self.dropped: list[str] = []
        # a slow Slack: Web API method -> seconds before it answers (after the call is recorded)
        self.slow: dict[str, float] = {}
        self.acks: dict[str, dict[str, Any]] = {}
        self._ts = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_ready = asyncio.Event()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.extra_routes: list[tuple[str, str, Any]] = []
        # Called with each call and post as it is recorded, in order (the sandbox prints them).
        self.observers: list[Callable[[ApiCall | UrlPost], None]] = []
        # set to an Event to hold apps.connections.open until it is set (a slow Slack)
        self.hold_connections: asyncio.Event | None = None
        # apps.connections.open answers this error (e.g. token_revoked) while it is set
        self.connections_error: str | None = None
        self.drop_after_hello = False  # close each websocket right after its hello
        self.bot_token_error: str | None = None  # every bot-token call answers it (token_revoked)
        self.url = ""

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def response_url(self, name: str | None = None) -> str:
        return f"{self.url}/hooks/{name or uuid.uuid4().hex[:10]}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk reads some methods by GET
        app.router.add_post("/hooks/{hook}", self._hook)
        app.router.add_get("/socket", self._socket)
        for method, path, handler in self.extra_routes:
            app.router.add_route(method, path, handler)
        self._runner, self.url = await serve_on_loopback(app)

    async def stop(self) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what the tests look at ------------------------------------------------------------

    def calls(self, method: str) -> list[ApiCall]:
        return [c for c in self.api_calls if c.method == method]

    def posts(self, hook: str) -> list[dict[str, Any]]:
        return [p.body for p in self.url_posts if p.hook == hook]

    async def wait_for(self, check: Callable[[], Any], within: float = 10.0) -> Any:
        """Wait until ``check()`` is truthy (re-checked on every recorded call)."""
        deadline = time.monotonic() + within
        async with self._changed:
            while not (result := check()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"timed out waiting; calls: {self.api_calls} posts: {self.url_posts}"
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)
            return result

    async def _record(self, record: ApiCall | UrlPost) -> None:
        if isinstance(record, ApiCall):
            self.api_calls.append(record)
        else:
            self.url_posts.append(record)
        for observe in self.observers:
            observe(record)
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- Web API ---------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        raw = await request.text()
        if request.method == "GET":
            args = dict(request.query)
        elif request.content_type == "application/json":
            args = json.loads(raw or "{}")
        else:
            args = dict(parse_qsl(raw))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self._drop(method, request):
            await self._notify()
            return web.Response()
        ts = ""
        if method in ("chat.postMessage", "chat.update"):
            ts = str(args.get("ts") or f"1700000000.{next(self._ts):06d}")
        await self._record(ApiCall(method, args, token, ts=ts))
        if delay := self.slow.get(method):
            await asyncio.sleep(delay)
        if method == "apps.connections.open" and self.hold_connections is not None:
            await self.hold_connections.wait()
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method == "apps.connections.open" and self.connections_error is not None:
            return web.json_response({"ok": False, "error": self.connections_error})
        if method != "apps.connections.open" and self.bot_token_error is not None:
            return web.json_response({"ok": False, "error": self.bot_token_error})
        if method == "auth.test":
            return web.json_response(
                {
                    "ok": True,
                    "url": WORKSPACE_URL,
                    "team": "Acme",
                    "user": "stoplive",
                    "team_id": "T0001",
                    "user_id": "U0BOT",
                    "bot_id": "B0BOT",
                }
            )
        if method == "apps.connections.open":
            return web.json_response(
                {"ok": True, "url": self.url.replace("http", "ws") + "/socket"}
            )
        if method in ("chat.postMessage", "chat.update"):
            channel = args.get("channel", "")
            if channel in self.refused_channels:
                return web.json_response({"ok": False, "error": self.refused_channels[channel]})
            if self.refuse_blocks and args.get("blocks"):
                return web.json_response({"ok": False, "error": "invalid_blocks"})
            return web.json_response({"ok": True, "channel": channel, "ts": ts})
        if method == "chat.getPermalink":
            where, message_ts = args.get("channel"), args.get("message_ts")
            if not where or not message_ts:
                return web.json_response({"ok": False, "error": "invalid_arguments"})
            link = f"{WORKSPACE_URL}archives/{where}/p{str(message_ts).replace('.', '')}"
            return web.json_response({"ok": True, "channel": where, "permalink": link})
        if method == "views.publish":
            view = args.get("view")
            if isinstance(view, str):  # a form-encoded call sends the view as JSON text
                view = json.loads(view)
            if not args.get("user_id") or not isinstance(view, dict):
                return web.json_response({"ok": False, "error": "invalid_arguments"})
            if len(view.get("blocks", [])) > 100:
                return web.json_response({"ok": False, "error": "invalid_blocks"})
            return web.json_response({"ok": True, "view": {"id": "V0HOME", **view}})
        return web.json_response({"ok": True})

    def home_views(self, user_id: str) -> list[dict[str, Any]]:
        """The Home views published for ``user_id``, oldest first."""
        found: list[dict[str, Any]] = []
        for call in self.calls("views.publish"):
            view = call.args.get("view")
            if call.args.get("user_id") == user_id:
                found.append(json.loads(view) if isinstance(view, str) else dict(view or {}))
        return found

    def _drop(self, target: str, request: web.Request) -> bool:
        """Hang up on this request if a fault asks for it (recorded in :attr:`dropped`)."""
        if target == "hooks" and self.drops.get(request.path.removeprefix("/"), 0) > 0:
            target = request.path.removeprefix("/")
        if self.drops.get(target, 0) <= 0:
            return False
        self.drops[target] -= 1
        self.dropped.append(target)
        assert request.transport is not None
        request.transport.close()
        return True

    async def _hook(self, request: web.Request) -> web.Response:
        if self._drop("hooks", request):
            await self._notify()
            return web.Response()
        body = await request.json()
        if self.refuse_blocks and body.get("blocks"):
            return web.Response(status=400, text="invalid_blocks")
        await self._record(UrlPost(request.match_info["hook"], body))
        return web.Response(text="ok")

    # --- Socket Mode -----------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0001"}}
        )
        self._socket_ready.set()
        await self._notify()  # a test may be waiting for a connection
        if self.drop_after_hello:
            await ws.close()
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                data = json.loads(message.data)
                if "envelope_id" in data:
                    self.acks[data["envelope_id"]] = data
                    await self._notify()
        await self._notify()  # closed
        return ws

    @property
    def sockets_open(self) -> int:
        return sum(not ws.closed for ws in self._sockets)

    @property
    def sockets_opened(self) -> int:
        """Websockets accepted so far, closed or not."""
        return len(self._sockets)

    async def close_sockets(self) -> None:
        """Close every open websocket, as Slack does when it restarts a server."""
        for ws in self._sockets:
            await ws.close()

    async def send_disconnects(self, count: int, reason: str = "refresh_requested") -> None:
        """Push ``count`` ``disconnect`` messages at once, as Slack does before a restart."""
        await asyncio.wait_for(self._socket_ready.wait(), 10)
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "standin"}}
        for _ in range(count):
            await self._sockets[-1].send_json(message)

    async def send_raw(self, text: str) -> None:
        """Push any text over Socket Mode (what Slack would never send)."""
        await asyncio.wait_for(self._socket_ready.wait(), 10)
        await self._sockets[-1].send_str(text)

    async def send_envelope(self, kind: str, payload: Any) -> str:
        """Push an envelope over Socket Mode; returns its id (see :attr:`acks`)."""
        await asyncio.wait_for(self._socket_ready.wait(), 10)
        envelope_id = uuid.uuid4().hex
        await self._sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return envelope_id


async def _serve() -> None:
    """Run the stand-in on its own (for ``bench/burst.py``); prints its URL. ``GET /_recorded``
    returns what it saw, with ``time.monotonic()`` stamps (one clock for all processes)."""
    standin = SlackStandIn()

    async def recorded(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "api_calls": [c.__dict__ for c in standin.api_calls],
                "url_posts": [p.__dict__ for p in standin.url_posts],
            }
        )

    standin.extra_routes.append(("GET", "/_recorded", recorded))
    await standin.start()
    print(standin.url, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_serve())
