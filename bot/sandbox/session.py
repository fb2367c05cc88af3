"""One sandbox run: the real stoplive app between a Slack stand-in and a MetaStudio stand-in, all
on loopback in this process, and the conversation that drives it.

The bot is built exactly as ``python -m bot`` builds it (``bot.app.build`` and the HTTP
``Transport``); the sandbox plays Slack's part: it posts slash commands and clicks signed with
the signing secret, shows the ack's message, and prints what the bot sends to the Slack
stand-in as it arrives. After each input it waits for the bot to settle, so a piped script
prints the same transcript every time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from rich.text import Text

from bot.app import Stoplive, build
from bot.metastudio.retry import RetryPolicy
from bot.sandbox import demo
from bot.sandbox.commands import (
    SLASH,
    Command,
    FaultKind,
    Help,
    InjectFault,
    InputError,
    Nothing,
    Press,
    Quit,
    SlashCommand,
    SwitchUser,
)
from bot.sandbox.mrkdwn import CODE_STYLE
from bot.sandbox.slack_requests import action_payload, command_body, signed_headers
from bot.sandbox.standins.metastudio import (
    ANY_JOB,
    INVALID,
    NO_SUCH_API,
    TENANT_JOBS,
    Fault,
    MetaStudioStandIn,
    stoplive_signer,
)
from bot.sandbox.standins.slack import ApiCall, SlackStandIn, UrlPost
from bot.sandbox.transcript import ONLY_YOU, Transcript
from bot.slack.server import EVENTS_PATH, Transport
from bot.stopflow.words.markup import span

SLACK_ACK_LIMIT = 3.0  # Slack shows the user an error when an app has not answered by then
QUIET = 0.3  # the bot has settled once its work is done and nothing came for this long,
SILENT_WORK = demo.VERIFY_SECONDS + 5.0  # or once it has worked this long without a word
LIVE = ("WAITING", "PROCESSING")
# How MetaStudio says a stream died (fault fails) or was blocked (fault blocked)
RTMP_FAILED = {"error_code": "MSS.00000004", "error_msg": "RTMP push failed"}
SPECIAL_EXIT = "Stopped by Huawei operations: content review"


class Sandbox:
    def __init__(self, transcript: Transcript, state_dir: Path) -> None:
        self.transcript = transcript
        self.user = demo.PEOPLE["alice"]
        self._state_dir = state_dir
        self.metastudio = MetaStudioStandIn(signer=stoplive_signer, project_id=demo.PROJECT_ID)
        self.slack = SlackStandIn(bot_token=demo.BOT_TOKEN)
        self.slack.observers.append(self._observe)
        self.stoplive: Stoplive | None = None
        self._transport: Transport | None = None
        self._http = httpx.AsyncClient(timeout=30.0, trust_env=False)  # loopback, no proxy
        self._hooks = itertools.count(1)
        self._posts = itertools.count(1)
        # response URL -> the message a replace_original posted there revises
        self._replaces: dict[str, str] = {}
        self._last_seen = 0.0

    # --- start and stop ---------------------------------------------------------------------

    async def start(self) -> None:
        demo.populate(self.metastudio)
        await self.metastudio.start()
        await self.slack.start()
        settings = demo.settings(self.metastudio.url, self.slack.api_url, self._state_dir)
        self.stoplive = build(settings)
        self._transport = Transport(self.stoplive)
        await self._transport.open()
        await self._poll_streams()  # learns what is live, so a fault's end is news at once

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.close()
        await self._http.aclose()
        await self.slack.stop()
        await self.metastudio.stop()

    @property
    def events_url(self) -> str:
        assert self._transport is not None and self._transport.port is not None
        return f"http://127.0.0.1:{self._transport.port}{EVENTS_PATH}"

    # --- the conversation -------------------------------------------------------------------

    async def run(self, command: Command | InputError) -> bool:
        """Carry out one command and wait for the bot to settle; False once it is time to go."""
        if isinstance(command, InputError):
            self.transcript.note(command.message)
        elif isinstance(command, Quit):
            return False
        elif isinstance(command, Help):
            self.show_help()
        elif isinstance(command, SwitchUser):
            self.user = demo.PEOPLE[command.name]
            self.transcript.note(f"You are now @{self.user.name}, who {self.user.may}.")
        elif isinstance(command, InjectFault):
            if command.fault.ends_a_stream:
                await self._end_a_stream(command.fault)
            else:
                self._inject(command.fault)
        elif isinstance(command, SlashCommand):
            await self._slash(command.text)
        elif isinstance(command, Press):
            await self._press(command.number)
        else:
            assert isinstance(command, Nothing)
            return True
        await self.settle()
        return True

    async def settle(self) -> None:
        """Wait until the bot's work after the acks is done and nothing new has arrived for
        :data:`QUIET` seconds, so the next line is read only once the bot has had its say.
        Work that goes on for :data:`SILENT_WORK` seconds without a message is let be."""
        assert self.stoplive is not None
        self._last_seen = time.monotonic()
        while True:
            silent = time.monotonic() - self._last_seen
            if silent >= QUIET and not len(self.stoplive.background):
                return
            if silent >= SILENT_WORK:
                self.transcript.note("stoplive is still at work; what it sends will show up.")
                return
            await asyncio.sleep(0.05)

    async def _slash(self, text: str) -> None:
        hook = self._new_hook()
        self._replaces[hook] = f"ack:{hook}"  # the command's answer, shown from its ack
        body = command_body(
            text,
            self.user.slack_id,
            demo.INCIDENTS,
            self.slack.response_url(hook),
            user_name=self.user.name,
            channel_name=demo.CHANNELS[demo.INCIDENTS],
        )
        await self._post(body, "/stoplive", key=f"ack:{hook}")

    async def _press(self, number: int) -> None:
        found = self.transcript.pressable()
        if found is None:
            self.transcript.note("No message has buttons to press.")
            return
        target, is_last = found
        buttons = target.buttons
        if number > len(buttons):
            self.transcript.note(
                f"The latest message with buttons has buttons 1 to {len(buttons)}."
            )
            return
        button = buttons[number - 1]
        if not is_last:  # the message right above has none: say which one is meant
            self.transcript.note(
                f"Pressing [{number}] {button.label} on the {target.where} message."
            )
        if button.url:
            self.transcript.note(f"Slack would open {button.url} in your browser.")
        hook = self._new_hook()
        self._replaces[hook] = target.key  # replace_original on this URL revises that message
        payload = action_payload(
            button.action_id,
            button.value,
            self.user.slack_id,
            demo.INCIDENTS,
            self.slack.response_url(hook),
            block_id=button.block_id,
            user_name=self.user.name,
            channel_name=demo.CHANNELS[demo.INCIDENTS],
            message_ts=target.ts or f"{time.time():.6f}",
            is_ephemeral=target.ephemeral,
        )
        await self._post(urlencode({"payload": json.dumps(payload)}), f"[{number}]")

    async def _post(self, body: str, what: str, key: str = "") -> None:
        """Send as Slack sends, and show what Slack would show of the ack."""
        started = time.monotonic()
        try:
            response = await self._http.post(
                self.events_url, content=body, headers=signed_headers(body, demo.SIGNING_SECRET)
            )
        except httpx.HTTPError as exc:
            self.transcript.note(f"Slack would say: {what} failed (the app did not answer: {exc})")
            return
        took = time.monotonic() - started
        if took > SLACK_ACK_LIMIT:
            self.transcript.note(
                f"Slack would say: {what} failed with the error “operation_timeout” "
                f"(the app answered after {took:.1f} s; Slack waits {SLACK_ACK_LIMIT:.0f} s)"
            )
        if response.status_code != 200:
            self.transcript.note(
                f"Slack would say: {what} failed with the error “dispatch_failed” "
                f"(the app answered HTTP {response.status_code})"
            )
            return
        if response.content:
            self._show_ack(response, key or f"ack:{what}:{time.monotonic()}")

    def _show_ack(self, response: httpx.Response, key: str) -> None:
        """A command's ack may carry the whole answer (help, a refusal): Slack shows it."""
        try:
            payload = response.json()
        except ValueError:
            payload = {"text": response.text}
        if not isinstance(payload, Mapping):
            payload = {"text": response.text}
        self.transcript.show(self._where_posted(payload), payload, key=key)

    def _observe(self, record: ApiCall | UrlPost) -> None:
        """Every call the bot makes to the Slack stand-in, as it is made."""
        self._last_seen = time.monotonic()
        if isinstance(record, UrlPost):
            body = record.body
            original = self._replaces.get(record.hook, f"hook:{record.hook}")
            if body.get("delete_original"):
                self.transcript.forget(original)
                self.transcript.note("stoplive deleted its message.")
                return
            replace = bool(body.get("replace_original"))
            key = original if replace else f"hook:{record.hook}:{next(self._posts)}"
            self.transcript.show(self._where_posted(body), body, key=key, updated=replace)
        elif record.method in ("chat.postMessage", "chat.update"):
            channel = str(record.args.get("channel", ""))
            where = "#" + demo.CHANNELS.get(channel, channel)
            if record.args.get("thread_ts"):
                where += " (in the thread)"
            updated = record.method == "chat.update"
            key = f"ts:{record.ts}"
            self.transcript.show(where, record.args, key=key, updated=updated, ts=record.ts)

    @staticmethod
    def _where_posted(payload: Mapping[str, Any]) -> str:
        if payload.get("response_type") == "in_channel":
            return "#" + demo.CHANNELS[demo.INCIDENTS]
        return ONLY_YOU

    def _new_hook(self) -> str:
        return f"{self.user.name}-{next(self._hooks)}"

    def _inject(self, kind: FaultKind) -> None:
        key = ANY_JOB
        if kind is FaultKind.STOP_500:
            # every attempt the client makes at the next stop (it reads the live job between
            # them): the outcome says the stop's answer was unclear, never "refused"
            fault = Fault("status", on="stop", times=RetryPolicy().attempts, status=500)
        elif kind is FaultKind.REFUSED:
            fault = Fault("status", on="stop", status=400, body=INVALID)
        elif kind is FaultKind.LOST_ANSWER:
            fault = Fault("lost_answer", on="stop")
        elif kind is FaultKind.NO_JOB_LIST:
            key = TENANT_JOBS
            fault = Fault("status", on="list", times=sys.maxsize, status=404, body=NO_SUCH_API)
        else:
            fault = Fault("stays_live", on="stop")
        self.metastudio.inject(key, fault)
        self.transcript.note(f"MetaStudio fault armed: {kind.description}.")

    async def _end_a_stream(self, kind: FaultKind) -> None:
        """The longest-live stream ends on its own, as MetaStudio would end it, and the stream
        watch polls at once (it would within NOTIFY_SECONDS anyway)."""
        live = [j for j in self.metastudio.jobs.values() if j.state in LIVE]
        if not live:
            self.transcript.note("No stream is live: there is nothing to end.")
            return
        job = min(live, key=lambda j: j.start_time)
        if kind is FaultKind.FAILS:
            job.end("FAILED", error_info=RTMP_FAILED)
        else:
            job.end("BLOCKED", block_reason=SPECIAL_EXIT)
        room = self.metastudio.rooms[job.room_id].room_name
        self.transcript.note(f"MetaStudio: {room} ended on its own ({job.state}).")
        await self._poll_streams()

    async def _poll_streams(self) -> None:
        assert self.stoplive is not None
        if self.stoplive.workflow.stream_watch is not None:
            await self.stoplive.workflow.stream_watch.poll_now()

    # --- what there is to try -----------------------------------------------------------------

    def show_banner(self) -> None:
        title = Text("stoplive sandbox", style="bold")
        title.append(
            ": the real bot, talking to stand-ins of Slack and MetaStudio in this process. "
            "Nothing leaves 127.0.0.1 and no credentials are read.",
            style="",
        )
        self.transcript.plain(title)
        self.transcript.plain(
            f"You are @{self.user.name} in #incidents; outcomes are copied to #audit; the "
            "stream watch posts in #oncall."
        )
        self.show_help()

    def show_help(self) -> None:
        out = self.transcript
        out.plain()
        out.plain(Text("Rooms (name · room ID), with a ready command for each live job:", "bold"))
        now = datetime.now(UTC)
        for room in demo.ROOMS:
            jobs = [j for j in self.metastudio.jobs.values() if j.room_id == room.room_id]
            live = [j for j in jobs if j.state in LIVE]
            summary = f"{len(live)} live job{'' if len(live) == 1 else 's'}"
            out.plain(
                Text.assemble(
                    (room.name, "bold"),
                    f" · {room.room_id} · {summary}, {len(jobs) - len(live)} ended",
                ),
                "  ",
                "    ",
            )
            for job in live:
                live_for = span((now - job.start_time).total_seconds())
                out.plain(
                    Text.assemble(
                        (f"{SLASH} {room.room_id} {job.job_id}", CODE_STYLE),
                        (f"   {job.state}, live for {live_for}", "dim"),
                    ),
                    "    ",
                    "      ",
                )
            if len(live) > 1:
                out.plain(
                    Text.assemble(
                        (f"{SLASH} {room.room_id}", CODE_STYLE),
                        ("   lists them to pick one", "dim"),
                    ),
                    "    ",
                    "      ",
                )
        out.plain()
        out.plain(Text("Type:", "bold"))
        lines = [
            (f"{SLASH} [words | <room_id> [<job_id>]]", "sent as your slash command in #incidents"),
            ("press N", "press button [N] of the latest message that has buttons"),
            *((f"as {p.name}", f"be @{p.name}, who {p.may}") for p in demo.PEOPLE.values()),
            *((f"fault {kind.value}", kind.description) for kind in FaultKind),
            ("help", "this list, with the rooms as they are now"),
            ("quit", "leave (so does the end of the input)"),
        ]
        column = max(len(left) for left, _ in lines) + 2
        for left, right in lines:
            out.plain(
                Text.assemble((left, CODE_STYLE), " " * (column - len(left)), (right, "dim")),
                "  ",
                " " * (column + 2),
            )
