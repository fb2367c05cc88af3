"""What the tests share: the IDs and keys of the fixtures' stand-ins, the audit lines a test
logged, and builders of tickets, journal entries and settings, so that each is made one way and
a change to its shape is one edit."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from bot.metastudio.retry import RetryPolicy
from bot.sandbox.standins.metastudio import MetaStudioStandIn
from bot.sandbox.standins.slack import SlackStandIn
from bot.stopflow.store import JournalEntry
from bot.stopflow.tickets import Ticket, TicketKey
from tests.harness import ALICE, BOB, CHANNEL, SIGNING_SECRET

AK, SK = "HPUA0TESTACCESSKEY00", "test-secret-key-0123456789"
ROOM = "24bad716-87b1-45e5-8912-6102f7693265"
JOB = "26f06524-4f75-4b3a-a853-b649a21aaf66"
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, budget=5.0)
TICKET_KEY = TicketKey.from_signing_secret("test-signing-secret")
AUDIT_LOGGER = "stoplive.audit"


class AuditLines:
    """The audit lines logged so far in this test, parsed; ``audit_lines("outcome")`` keeps one
    event. Made by the ``audit_lines`` fixture, which turns the audit logger on at INFO first
    (the bot logs its audit lines at INFO, and pytest captures WARNING and up by default)."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
        self._caplog = caplog

    def __call__(self, event: str | None = None) -> list[dict[str, Any]]:
        lines = [
            json.loads(record.getMessage())
            for record in self._caplog.records
            if record.name == AUDIT_LOGGER
        ]
        return [line for line in lines if event is None or line["event"] == event]


def ticket(**changes: Any) -> Ticket:
    """A confirmation ticket for ALICE's stop of JOB in ROOM, issued now with the tests' key;
    ``changes`` are :meth:`Ticket.issue`'s keywords (``now=``, ``room_id=``, ``key=``...)."""
    values: dict[str, Any] = {
        "key": TICKET_KEY,
        "room_id": ROOM,
        "job_id": JOB,
        "requester": ALICE,
        "channel_id": CHANNEL,
        "ttl": 300,
        "response_url": "https://hooks.slack.com/x",
    }
    return Ticket.issue(**(values | changes))


def journal_entry(**changes: Any) -> JournalEntry:
    """A journal entry for ALICE's stop of JOB in ROOM, begun now; ``changes`` are its fields
    (``step=``, ``outcome=``, ``created_at=``...)."""
    values: dict[str, Any] = {
        "stop_id": "stop-1",
        "room_id": ROOM,
        "job_id": JOB,
        "requester": ALICE,
        "channel_id": CHANNEL,
        "app_user_id": "ops-alice",
        "response_url": "https://hooks.slack.com/x",
        "created_at": time.time(),
    }
    return JournalEntry(**(values | changes))


def bot_settings(
    metastudio: MetaStudioStandIn, slack: SlackStandIn, **overrides: Any
) -> dict[str, Any]:
    """The keywords of ``load_settings`` for a stoplive pointed at the stand-ins, never reading
    ``.env``; ``overrides`` win."""
    values: dict[str, Any] = {
        "_env_file": None,
        "metastudio_project_id": metastudio.project_id,
        "metastudio_endpoint": metastudio.url,
        "huaweicloud_sdk_ak": AK,
        "huaweicloud_sdk_sk": SK,
        "slack_bot_token": slack.bot_token,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.api_url,
        "stoplive_mode": "http",
        "stoplive_host": "127.0.0.1",
        "port": 0,
        "stoplive_allowlist": json.dumps({ALICE: "ops-alice", BOB: "ops-bob"}),
        "stoplive_verify_seconds": 2.0,
        "stoplive_watch_seconds": 0,  # watch no longer than verify_seconds unless a test says so
        # a journal of its own for every bot, never a file in the checkout
        "stoplive_state_file": str(Path(tempfile.mkdtemp(prefix="stoplive-")) / "state.db"),
    }
    values.update(overrides)
    return values
