"""Socket Mode: the same flow over a real websocket, with acks per envelope."""

from __future__ import annotations

import logging

import pytest

from tests.builders import JOB, ROOM
from tests.conftest import BotFactory
from tests.harness import ALICE, CHANNEL, Harness, action_payload, buttons


async def test_the_whole_flow_over_socket_mode(start_bot: BotFactory) -> None:
    bot = await start_bot(stoplive_mode=None, slack_app_token="xapp-test")
    assert bot.transport.port is not None  # /healthz and /metrics only (tests/test_edge.py)
    [opened] = bot.slack.calls("apps.connections.open")
    assert opened.token == "xapp-test"  # SLACK_API_URL is used for the connection too

    hook = "socket-cmd"
    command = {
        "token": "unused",
        "team_id": "T0001",
        "channel_id": CHANNEL,
        "user_id": ALICE,
        "command": "/stoplive",
        "text": f"{ROOM} {JOB}",
        "api_app_id": "A0001",
        "response_url": bot.slack.response_url(hook),
        "trigger_id": "1.2.3",
    }
    envelope = await bot.slack.send_envelope("slash_commands", command)
    await bot.slack.wait_for(lambda: envelope in bot.slack.acks)
    confirmation = await bot.first_post(hook)

    click = action_payload(
        "stoplive.confirm",
        buttons(confirmation)["stoplive.confirm"],
        ALICE,
        CHANNEL,
        bot.slack.response_url("socket-click"),
    )
    envelope = await bot.slack.send_envelope("interactive", click)
    await bot.slack.wait_for(lambda: envelope in bot.slack.acks)
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert f"✅ Stopped: `Spring sale` · by <@{ALICE}>" in final["text"]
    [stop] = bot.metastudio.calls("POST", "/stop")
    assert stop.headers["X-App-UserId"] == "ops-alice"


async def test_help_is_the_ack_payload_over_socket_mode(start_bot: BotFactory) -> None:
    bot = await start_bot(stoplive_mode="socket", slack_app_token="xapp-test")
    command = {
        "team_id": "T0001",
        "channel_id": CHANNEL,
        "user_id": ALICE,
        "command": "/stoplive",
        "text": "help",
        "api_app_id": "A0001",
        "response_url": bot.slack.response_url(),
    }
    envelope = await bot.slack.send_envelope("slash_commands", command)
    ack = await bot.slack.wait_for(lambda: bot.slack.acks.get(envelope))
    assert "/stoplive &lt;room_id&gt; &lt;job_id&gt;" in ack["payload"]["text"]


MALFORMED_ENVELOPES = [
    ("slash_commands", {}),
    ("slash_commands", {"command": "/stoplive", "text": "help", "user_id": ["U0ALICE01"]}),
    ("slash_commands", "BODYMARK as a string"),
    ("interactive", {"type": "block_actions", "user": {}, "actions": "BODYMARK"}),
    ("interactive", {"type": 5}),
    ("events_api", {"type": "event_callback", "event": "BODYMARK"}),
    ("events_api", {"type": "event_callback", "event": {"type": "app_home_opened", "user": 5}}),
    ("events_api", {"type": "event_callback", "event": {"type": "message", "text": "BODYMARK"}}),
    ("events_api", {"command": "/stoplive", "text": "BODYMARK"}),
    ("slash_commands", ["BODYMARK"]),
    ("interactive", 5),
    ("interactive", None),
]


async def test_a_malformed_envelope_is_acked_in_one_line(
    start_bot: BotFactory, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start_bot(stoplive_mode="socket", slack_app_token="xapp-test")
    for kind, payload in MALFORMED_ENVELOPES:
        caplog.clear()
        envelope = await bot.slack.send_envelope(kind, payload)
        ack = await bot.slack.wait_for(lambda e=envelope: bot.slack.acks.get(e))
        assert ack == {"envelope_id": envelope}
        [line] = [r for r in caplog.records if r.levelno >= logging.INFO]
        assert line.name == "bot.slack.socket_mode" and not line.exc_info
        assert "BODYMARK" not in caplog.text
    for raw in ("{not JSON BODYMARK", '{"envelope_id": 5, "payload": "BODYMARK"}', "[1]"):
        caplog.clear()
        await bot.slack.send_raw(raw)
        await help_works(bot)  # the connection is still served; nothing raised
        lines = [r for r in caplog.records if r.levelno >= logging.INFO]
        assert "Traceback" not in caplog.text and "BODYMARK" not in caplog.text
        assert len(lines) <= 1 and all(r.name == "bot.slack.socket_mode" for r in lines)
    assert not bot.slack.url_posts and not bot.metastudio.seen


async def help_works(bot: Harness) -> None:
    envelope = await bot.slack.send_envelope(
        "slash_commands",
        {
            "command": "/stoplive",
            "text": "help",
            "user_id": ALICE,
            "channel_id": CHANNEL,
            "response_url": bot.slack.response_url(),
        },
    )
    ack = await bot.slack.wait_for(lambda: bot.slack.acks.get(envelope))
    assert "/stoplive &lt;room_id&gt; &lt;job_id&gt;" in ack["payload"]["text"]


async def test_closing_leaves_no_connection_and_opens_none(start_bot: BotFactory) -> None:
    bot = await start_bot(stoplive_mode="socket", slack_app_token="xapp-test")
    await bot.slack.wait_for(lambda: bot.slack.sockets_open == 1)
    await bot.transport.close()
    await bot.slack.wait_for(lambda: bot.slack.sockets_open == 0)
    assert len(bot.slack.calls("apps.connections.open")) == 1
