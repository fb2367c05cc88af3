"""Markup at its exact edges: caps met to the character, cuts at the right space, tokens and
entities never split, nothing shown for nothing, clocks in UTC whatever the server's zone.
(Written against mutmut's survivors in ``bot/stopflow/words/markup.py``.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.metastudio.models import SmartLiveJob
from bot.stopflow.words import markup
from bot.stopflow.words.markup import ID_CAP, MAX_BUTTON_TEXT, NAME_CAP, data, fit, one_line, plain


def shown(value: markup.Mrkdwn) -> str:
    """What :func:`data` put between the backticks."""
    assert value.startswith("`") and value.endswith("`")
    return value[1:-1]


def test_nothing_shows_as_nothing() -> None:
    assert one_line(None) == ""
    assert data(None) == "(blank)"
    assert plain(None) == ""


def test_only_whitespace_controls_become_spaces() -> None:
    assert one_line("XRAY\tzone\nnext\x85line\x00!") == "XRAY zone next line!"


@pytest.mark.parametrize("limit", [2, 10, NAME_CAP])
def test_text_exactly_at_the_cap_is_shown_whole(limit: int) -> None:
    assert shown(data("a" * limit, limit)) == "a" * limit
    assert shown(data("a" * (limit + 1), limit)) == "a" * (limit - 1) + "…"


def test_a_clipped_text_that_cleans_to_the_cap_still_keeps_within_it() -> None:
    scan = markup.scan_length(NAME_CAP)
    raw = "a" * NAME_CAP + "\x00" * scan  # the part read cleans to exactly the cap
    assert shown(data(raw)) == "a" * (NAME_CAP - 1) + "…"


def test_a_text_exactly_as_long_as_what_is_read_is_not_clipped() -> None:
    scan = markup.scan_length(NAME_CAP)
    assert data("ab" + "\x00" * (scan - 2)) == "`ab`"
    assert data("ab" + "\x00" * (scan - 1)) == "`ab…`"


def test_plain_text_keeps_the_cap_and_defuses_broadcasts() -> None:
    assert plain("a" * MAX_BUTTON_TEXT) == "a" * MAX_BUTTON_TEXT
    assert plain("a" * 80) == "a" * (MAX_BUTTON_TEXT - 1) + "…"
    assert plain("tell @here and @Channel") == "tell \uff20here and \uff20Channel"


def test_fit_keeps_text_exactly_at_the_limit() -> None:
    assert fit("a" * 10, 10) == "a" * 10


@pytest.mark.parametrize(
    ("text", "limit", "cut"),
    [
        ("aaaa bbbb cccc dddd", 17, "aaaa bbbb cccc…"),  # at the last space
        ("aaaa\nbbbb\ncccc\ndddd", 17, "aaaa\nbbbb\ncccc…"),  # at the last line break
        ("aaaaa bbbbbbb", 10, "aaaaa bbb…"),  # a space at exactly half: too early to cut at
        ("aaaaaa bbbbbb", 10, "aaaaaa…"),  # just past half: cut there
        ("aaaaaaaa bbbbbbbbbbbbbbbb", 20, "aaaaaaaa bbbbbbbbbb…"),  # before half: not a cut
        ("aaaaaaa   bbbbbbbbb", 12, "aaaaaaa…"),  # no spaces left before the "…"
        ("<@U1><@U22222222222222222>", 15, "<@U1>…"),  # an unfinished token goes
        ("<a><b>xxxxxxxxxx", 8, "<a><b>x…"),  # finished tokens stay
        ("x&amp;yyyyyyyyyy", 10, "x&amp;yyy…"),  # a finished entity stays
        ("xyz&amp;yyyyyy", 7, "xyz…"),  # an unfinished one goes
    ],
)
def test_fit_cuts_where_a_reader_expects(text: str, limit: int, cut: str) -> None:
    assert fit(text, limit) == cut
    assert len(cut) <= limit


def test_ids_that_are_not_slack_ids_are_shown_to_the_id_cap() -> None:
    assert shown(markup.mention("x" * 100)) == "x" * (ID_CAP - 1) + "…"
    assert shown(markup.channel("y" * 100)) == "y" * (ID_CAP - 1) + "…"
    assert markup.mention("U0ALICE01") == "<@U0ALICE01>"
    assert markup.channel("C0INCIDENT") == "<#C0INCIDENT>"


@pytest.fixture
def far_east_clock() -> Iterator[None]:
    """The process runs in UTC+8 for the test (the bot may run on a server in any zone)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "Asia/Shanghai")
        time.tzset()
        try:
            yield
        finally:
            patch.undo()
            time.tzset()


@pytest.mark.usefixtures("far_east_clock")
def test_the_fallback_clock_is_utc_whatever_the_server_zone() -> None:
    assert time.localtime(0).tm_hour == 8  # the zone did change
    moment = datetime(2026, 11, 24, 13, 3, tzinfo=UTC)
    assert markup.clock(moment) == f"<!date^{int(moment.timestamp())}^{{time}}|13:03 UTC>"


@pytest.mark.parametrize(
    ("room_id", "label"),
    [("abcdefghi", "room abcdefghi"), ("abcdefghij", "room abcdefgh…"), ("abc", "room abc")],
)
def test_a_room_without_a_name_is_labelled_by_its_id(room_id: str, label: str) -> None:
    assert shown(markup.room_label(room_id, None)) == label
    assert shown(markup.room_label(room_id, " \n ")) == label


def test_an_ended_job_says_when_it_ended() -> None:
    job = SmartLiveJob(
        job_id="j",
        state="SUCCEED",
        start_time="2026-11-24T13:01:00Z",
        end_time="2026-11-24T14:03:05Z",
    )
    ended = datetime(2026, 11, 24, 14, 3, 5, tzinfo=UTC)
    facts = markup.job_facts(job, datetime(2026, 11, 24, 15, 0, tzinfo=UTC))
    assert facts == (f"Ended normally · ended at {markup.clock(ended)} after 1 h 02 min")


@pytest.mark.parametrize(
    ("state", "more", "says"),
    [
        ("PROCESSING", {}, "Live · live for 1 h 59 min (since {t})"),
        ("STOPPING", {}, "MetaStudio reports `STOPPING` · started at {t}"),
        (
            "BLOCKED",
            {"block_reason": "Special exit"},
            "Blocked · started at {t} · MetaStudio says: `Special exit`",
        ),
    ],
)
def test_only_a_live_job_is_said_to_be_live_for_a_while(
    state: str, more: dict[str, str], says: str
) -> None:
    """A state stoplive does not know, or a block without an end time, is not "live for"."""
    job = SmartLiveJob(job_id="j", state=state, start_time="2026-11-24T13:01:00Z", **more)
    facts = markup.job_facts(job, datetime(2026, 11, 24, 15, 0, tzinfo=UTC))
    started = datetime(2026, 11, 24, 13, 1, tzinfo=UTC)
    assert facts == says.format(t=markup.clock(started))


def test_a_button_lets_emoji_codes_render_and_keeps_its_block_id() -> None:
    button = markup.button("Stop :octagonal_sign:", "stop")
    assert button.to_dict() == {
        "type": "button",
        "action_id": "stop",
        "text": {"type": "plain_text", "text": "Stop :octagonal_sign:", "emoji": True},
    }
    block = markup.actions("confirm-1", button)
    assert block["block_id"] == "confirm-1"
    labelled = markup.button("Stop", "stop", "v", accessibility_label="Stop <the job>")
    assert labelled.to_dict()["accessibility_label"] == "Stop \u2039the job\u203a"


@pytest.mark.usefixtures("far_east_clock")
def test_the_fallback_day_and_time_is_utc_whatever_the_server_zone() -> None:
    moment = datetime(2026, 11, 24, 20, 3, tzinfo=UTC)  # already the 25th in UTC+8
    assert markup.day_and_time(moment) == (
        f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|Nov 24 20:03 UTC>"
    )


def test_a_slack_link_is_made_only_for_a_plain_slack_page() -> None:
    url = "https://acme.slack.com/archives/C0INCIDENT/p1764212345000100?thread_ts=1.2&cid=C1"
    assert markup.slack_link(url, "the <request> & more") == (
        "<https://acme.slack.com/archives/C0INCIDENT/p1764212345000100?thread_ts=1.2&amp;cid=C1"
        "|the &lt;request&gt; &amp; more>"
    )
    for bad in (
        "http://acme.slack.com/archives/C1",
        "https://evil.example/archives/C1",
        "https://acme.slack.com.evil.example/x",
        "https://acme.slack.com/a|b",
        "https://acme.slack.com/a>b",
        "https://acme.slack.com/",
        "https://acme.slack.com/x\n",
    ):
        assert markup.slack_link(bad, "x") is None
