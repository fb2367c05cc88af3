"""Socket Mode: the same flow over a real websocket, with acks per envelope."""

from __future__ import annotations

from tests.conftest import JOB, ROOM, BotFactory
from tests.harness import ALICE, CHANNEL, action_payload, buttons


async def test_the_whole_flow_over_socket_mode(start_bot: BotFactory) -> None:
    bot = await start_bot(stoplive_mode=None, slack_app_token="xapp-test")
    assert bot.transport.port is None  # no HTTP listener in Socket Mode
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
