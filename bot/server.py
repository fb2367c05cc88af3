"""How stoplive meets Slack: an aiohttp server (HTTP mode) or a Socket Mode connection, and a
shutdown that lets confirmed stops finish and post their outcome first."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.app import Stoplive

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
DRAIN_SECONDS = 25.0  # Heroku and Kubernetes allow 30 s between SIGTERM and SIGKILL


def web_app(bolt: AsyncApp) -> web.Application:
    """``POST /slack/events`` (commands and interactivity, signature-checked by Bolt) and
    ``GET /healthz``."""

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    application = web.Application(client_max_size=256 * 1024)
    application.router.add_post(EVENTS_PATH, events)
    application.router.add_get("/healthz", healthz)
    return application


class Transport:
    """Receives Slack's requests until :meth:`close`; ``port`` is set in HTTP mode."""

    def __init__(self, stoplive: Stoplive) -> None:
        self._stoplive = stoplive
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self.port: int | None = None

    async def open(self) -> None:
        settings = self._stoplive.settings
        if settings.use_socket_mode:
            assert settings.slack_app_token is not None
            app_token = settings.slack_app_token.get_secret_value()
            # apps.connections.open goes through the app's own client, so SLACK_API_URL holds
            self._socket = AsyncSocketModeHandler(self._stoplive.bolt, app_token)
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("stoplive connected to Slack in Socket Mode")
            return
        self._runner = web.AppRunner(web_app(self._stoplive.bolt), access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, settings.stoplive_host, settings.port)
        await self._site.start()
        server = self._site._server
        assert isinstance(server, asyncio.base_events.Server)
        self.port = server.sockets[0].getsockname()[1]
        log.info(
            "stoplive listening on http://%s:%s%s", settings.stoplive_host, self.port, EVENTS_PATH
        )

    async def close(self) -> None:
        """Stop taking requests, let confirmed stops finish, then let go of everything."""
        if self._socket is not None:
            await self._socket.disconnect_async()  # type: ignore[no-untyped-call]
        if self._site is not None:
            await self._site.stop()
        drained = await self._stoplive.background.drain(DRAIN_SECONDS)
        log.info(
            "stoplive stopped (%s)", "all stops finished" if drained else "some stops cut short"
        )
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
        if self._runner is not None:
            await self._runner.cleanup()
        await self._stoplive.aclose()
