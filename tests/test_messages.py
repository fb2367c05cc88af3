"""Pure pieces: parsing, escaping, tickets, retry timing and the words of each message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.metastudio.errors import MetaStudioError
from bot.metastudio.models import SmartLiveJob
from bot.metastudio.retry import RetryPolicy, parse_retry_after
from bot.stopflow import messages
from bot.stopflow.command import ShowHelp, StopTarget, UsageError, parse
from bot.stopflow.markup import escape, span
from bot.stopflow.outcome import Outcome, Verdict
from bot.stopflow.tickets import Ticket, TicketKey

NOW = datetime(2026, 11, 24, 14, 3, 5, tzinfo=UTC)
KEY = TicketKey.from_signing_secret("test-signing-secret")


def ticket(**changes: object) -> Ticket:
    values: dict[str, object] = {
        "key": KEY,
        "room_id": "room-1",
        "job_id": "job-1",
        "requester": "U0ALICE01",
        "channel_id": "C1",
        "ttl": 300,
        "response_url": "https://hooks/x",
    }
    values.update(changes)
    return Ticket.issue(**values)  # type: ignore[arg-type]


def test_parse() -> None:
    assert parse("") == ShowHelp() and parse(" help ") == ShowHelp()
    assert parse("room-1") == StopTarget("room-1", None)
    assert parse(" room-1   job-1 ") == StopTarget("room-1", "job-1")
    with pytest.raises(UsageError, match="3 words"):
        parse("a b c")
    with pytest.raises(UsageError, match="The job ID must be"):
        parse("room-1 job/../x")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("@channel please", "@\u200bchannel please"),
        ("@HERE", "@\u200bHERE"),
        ("a & b", "a &amp; b"),
        ("<@U123|bob>", "&lt;@U123|bob&gt;"),
        ("<https://evil|click>", "&lt;https://evil|click&gt;"),
        ("plain", "plain"),
    ],
)
def test_escape(raw: str, shown: str) -> None:
    assert escape(raw) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0, "0 s"), (42, "42 s"), (185, "3 min 05 s"), (3720, "1 h 02 min")]
)
def test_span(seconds: float, shown: str) -> None:
    assert span(seconds) == shown


def test_retry_delay_is_bounded_and_honours_retry_after() -> None:
    policy = RetryPolicy(base_delay=0.2, max_delay=2.0)
    assert all(0 <= policy.delay(n) <= 2.0 for n in range(1, 12) for _ in range(20))
    assert policy.delay(1, retry_after=5) == 5
    assert parse_retry_after("7") == 7 and parse_retry_after(None) is None
    later = NOW + timedelta(seconds=30)
    assert parse_retry_after(later.strftime("%a, %d %b %Y %H:%M:%S GMT"), now=NOW) == 30
    assert parse_retry_after("soon") is None


def job(state: str = "PROCESSING", ended: bool = False) -> SmartLiveJob:
    return SmartLiveJob(
        job_id="job-1",
        room_id="room-1",
        room_name="<!channel> sale",
        state=state,
        start_time="2026-11-24T13:01:00Z",
        end_time="2026-11-24T14:03:05Z" if ended else None,
    )


def test_confirmation_shows_the_job_and_a_danger_button() -> None:
    reply = messages.confirmation(ticket(), "ops-alice", job(), None, 300, NOW)
    shown = reply.blocks[0]["text"]["text"]
    assert "&lt;!channel&gt; sale" in shown and "<!channel>" not in str(reply.blocks)
    assert "live for 1 h 02 min (since 13:01:00 UTC)" in shown
    confirm, cancel = reply.blocks[2]["elements"]
    assert confirm["style"] == "danger" and "style" not in cancel
    opened = Ticket.decode(confirm["value"], KEY, 300)
    assert isinstance(opened, Ticket) and opened.job_id == "job-1"


def test_announcements_tell_the_truth() -> None:
    t = ticket()
    stopped = messages.announcement(
        Outcome(Verdict.STOPPED, t, "ops-alice", True, "rid-1", job("SUCCEED", True))
    )
    assert (
        "<@U0ALICE01> stopped job `job-1`" in stopped.text
        and "ended 14:03:05 UTC after 1 h 02 min" in stopped.text
    )
    live = messages.announcement(
        Outcome(Verdict.STILL_LIVE, t, "ops-alice", True, "rid-1", job(), waited=30)
    )
    assert "accepted, but the job is still PROCESSING after 30 s" in live.text
    error = MetaStudioError(500, "MSS.00000004", "Internal <Error>", "rid-2", None)
    refused = messages.announcement(
        Outcome(Verdict.REFUSED, t, "ops-alice", True, "rid-2", error=error)
    )
    assert (
        "HTTP 500 `MSS.00000004`: Internal &lt;Error&gt;" in refused.text
        and "Nothing was stopped" in refused.text
    )
    assert "rid-2" in str(refused.blocks) and "As MetaStudio user `ops-alice`" in str(
        refused.blocks
    )
    unknown = messages.announcement(
        Outcome(Verdict.UNKNOWN, t, "ops-alice", False, problem="timeout")
    )
    assert "outcome is unknown" in unknown.text and "No answer from MetaStudio" in unknown.text
