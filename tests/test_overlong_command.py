"""An overlong ``/stoplive`` is bad input like any other: a short, clear answer, over HTTP and
over Socket Mode alike (not a bare 400, not silence)."""

from __future__ import annotations

import pytest

from tests.builders import ROOM
from tests.conftest import BotFactory
from tests.harness import ALICE, CHANNEL

LONG_TEXTS = [
    pytest.param("spring sale " * 417, id="5,000 characters of words"),
    pytest.param(ROOM + " x" * 2500, id="an ID and 2,500 more words"),
    pytest.param("x" * 200_000, id="200 kB in one word"),
]


def short_and_clear(text: str) -> None:
    """As any text that cannot be a request is answered: what is wrong, then the usage."""
    assert text.startswith("⚠️ Not understood: "), text
    assert len(text) < 1500, text
    assert "x" * 100 not in text and "spring sale spring sale" not in text  # not echoed back


@pytest.mark.parametrize("typed", LONG_TEXTS)
async def test_an_overlong_command_is_answered_over_http(start_bot: BotFactory, typed: str) -> None:
    bot = await start_bot()
    response, _ = await bot.command(typed)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    short_and_clear(answer["text"])
    assert not bot.metastudio.seen  # nothing looked up for it


@pytest.mark.parametrize("typed", LONG_TEXTS[:2])
async def test_an_overlong_command_is_answered_over_socket_mode(
    start_bot: BotFactory, typed: str
) -> None:
    bot = await start_bot(stoplive_mode="socket", slack_app_token="xapp-test")
    command = {
        "command": "/stoplive",
        "text": typed,
        "user_id": ALICE,
        "channel_id": CHANNEL,
        "response_url": bot.slack.response_url(),
    }
    envelope = await bot.slack.send_envelope("slash_commands", command)
    ack = await bot.slack.wait_for(lambda: bot.slack.acks.get(envelope))
    short_and_clear(ack["payload"]["text"])
