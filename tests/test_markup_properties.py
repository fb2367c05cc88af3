"""Properties of every message, for any text MetaStudio or a person could send.

Whatever a room name, an error message, a state or an ID holds, each built message is one
Slack accepts (slack_sdk's validators plus the limits it does not check) and foreign text is
shown as data: one line, no control or bidi characters, no live markup, no broadcast mention,
entities never cut in half.

And markup at its exact edges: caps met to the character, cuts at the right space, tokens and
entities never split, nothing shown for nothing, clocks in UTC whatever the server's zone
(written against mutmut's survivors in ``bot/stopflow/markup.py``).
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block as SdkBlock

from bot.metastudio.errors import MetaStudioError
from bot.metastudio.models import SmartLiveJob, SmartLiveRoom
from bot.stopflow.outcome import Outcome, StopAnswer, Verdict
from bot.stopflow.tickets import Ticket
from bot.stopflow.words import live_lists, markup, refusals, to_channel, to_requester
from bot.stopflow.words.markup import ID_CAP, MAX_BUTTON_TEXT, NAME_CAP, data, fit, one_line, plain
from tests import builders
from tests.builders import TICKET_KEY

KEY = TICKET_KEY

NOW = datetime(2026, 11, 24, 14, 3, 5, tzinfo=UTC)
# Tokens only our code writes: validated mentions and channels, and date tokens.
OUR_TOKENS = re.compile(
    r"<@[UW][A-Z0-9]{1,30}>|<#[CGD][A-Z0-9]{1,30}>|<!date\^-?\d+\^\{time\}\|\d\d:\d\d UTC>"
)
ENTITY = re.compile(r"&(amp|lt|gt);")
BROADCAST = re.compile(r"@(channel|here|everyone|group)|<!(channel|here|everyone)", re.I)
BROADCAST_WORD = re.compile(r"@(channel|here|everyone|group)", re.I)
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

DANGEROUS = [
    "<!channel>",
    "<!here|here>",
    "@channel",
    "@HERE",
    "@everyone",
    "<@U0ALICE01>",
    "<https://evil.example|click>",
    "https://login.example/x",
    "*bold*",
    "_it_",
    "~strike~",
    "`",
    "```",
    "&",
    "&amp;",
    "&lt;",
    "<",
    ">",
    "\n",
    "\r\n",
    "\u2028",
    "\u202e",
    "\u2066",
    "\u200b",
    "\x00",
    "\x1b[31m",
    "\ud800",
    ":white_check_mark:",
    "✅ All clear, no action needed",
    "{time}",
    "{}",
    " ",
]
hostile = st.lists(st.sampled_from(DANGEROUS) | st.text(max_size=8), max_size=12).map("".join)
huge = st.builds(lambda piece, n: piece * n, hostile.filter(bool), st.integers(100, 700))
foreign = st.one_of(st.text(), hostile, huge)


def ticket(room_id: str = "room-1", job_id: str = "job-1", requester: str = "U0ALICE01") -> Ticket:
    """A ticket carrying foreign text where IDs go (the gate allows 64 characters of a safe
    alphabet; here any 64 characters, so the words stay safe even if that check slipped)."""
    return builders.ticket(
        room_id=room_id[:64],
        job_id=job_id[:64],
        requester=requester[:64],
        channel_id="C0OPS0001",
        response_url="https://hooks.slack.com/commands/T1/1/abc",
        now=NOW.timestamp(),
    )


def job(
    name: str | None = "Spring sale", job_id: str = "job-1", state: str = "PROCESSING"
) -> SmartLiveJob:
    return SmartLiveJob(
        job_id=job_id,
        room_id="room-1",
        room_name=name,
        state=state,
        start_time="2026-11-24T13:01:00Z",
    )


def check_mrkdwn(text: str) -> None:
    """Safe mrkdwn: only our own ``<…>`` tokens, every ``&`` an entity, no control or bidi
    characters (newlines are our own line breaks), no broadcast mention."""
    rest = OUR_TOKENS.sub("", text)
    assert "<" not in rest and ">" not in rest, text
    assert "&" not in ENTITY.sub("", rest), text
    assert not BROADCAST.search(rest), text
    for char in text:
        assert char == "\n" or unicodedata.category(char)[0] != "C", (hex(ord(char)), text)
        assert char not in BIDI


def check_plain(text: str) -> None:
    for char in text:
        assert unicodedata.category(char)[0] != "C", hex(ord(char))
    assert not BROADCAST.search(text)


def check_reply(reply: markup.Reply) -> list[dict[str, Any]]:
    """Every limit Slack enforces, and safe text everywhere; the blocks, for more checks."""
    payload = reply.payload()
    json.dumps(payload)
    assert payload["unfurl_links"] is False and payload["unfurl_media"] is False
    assert 0 < len(reply.text) <= markup.MAX_TEXT
    check_mrkdwn(reply.text)
    plain = reply.plain()
    assert len(plain.text) <= markup.MAX_PLAIN and not plain.blocks
    check_mrkdwn(plain.text)
    blocks: list[dict[str, Any]] = payload.get("blocks", [])
    assert len(blocks) <= markup.MAX_BLOCKS
    for block in blocks:
        SdkBlock.parse(block).validate_json()  # type: ignore[union-attr]
        assert len(block.get("block_id", "")) <= markup.MAX_ID
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= markup.MAX_SECTION_TEXT
            check_mrkdwn(block["text"]["text"])
            assert len(block.get("fields", [])) <= 10
            elements = [block["accessory"]] if "accessory" in block else []
        elif block["type"] == "context":
            assert len(block["elements"]) <= markup.MAX_CONTEXT_ELEMENTS
            for element in block["elements"]:
                assert len(element["text"]) <= markup.MAX_SECTION_TEXT
                check_mrkdwn(element["text"])
            elements = []
        else:
            assert block["type"] == "actions", block
            elements = block["elements"]
            assert len(elements) <= markup.MAX_ACTIONS_ELEMENTS
        for element in elements:
            assert len(element["text"]["text"]) <= markup.MAX_BUTTON_TEXT
            check_plain(element["text"]["text"])
            assert len(element.get("value", "")) <= markup.MAX_BUTTON_VALUE
            assert len(element["action_id"]) <= markup.MAX_ID
            label = element.get("accessibility_label", "")
            assert len(label) <= markup.MAX_BUTTON_TEXT
            check_plain(label)
    return blocks


# --- data(): the one way in -------------------------------------------------------------------


@given(foreign, st.integers(2, 400))
def test_data_is_one_inert_line_cut_between_entities(value: str, limit: int) -> None:
    shown = markup.data(value, limit)
    check_mrkdwn(shown)  # includes: every & left is a whole entity, so no cut splits one
    assert "\n" not in shown
    clipped = len(value) > markup.scan_length(limit)
    line = markup.one_line(value[: markup.scan_length(limit)])
    if not line and not clipped:
        assert shown == "(blank)"
        return
    inner = shown[1:-1]
    assert shown[0] == shown[-1] == "`" and "`" not in inner  # one code span, never closed early
    defused = BROADCAST_WORD.sub("\uff20\\1", line.replace("`", "\u02cb"))
    full = defused.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if len(full) <= limit and not clipped:
        assert inner == full
    elif len(full) < limit:
        assert inner == full + "…"  # read only in part: still marked as cut
    else:
        assert len(inner) <= limit and inner.endswith("…") and full.startswith(inner[:-1])


def one_line_by_definition(value: str) -> str:
    """one_line as its docstring defines it, character by character (no fast path)."""
    kept = []
    for char in value:
        category = unicodedata.category(char)
        if category[0] == "Z" or char in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85":
            kept.append(" ")
        elif category[0] != "C":
            kept.append(char)
    return " ".join("".join(kept).split())


@given(st.one_of(foreign, st.text(alphabet=st.characters(codec="utf-8"))))
def test_one_line_is_its_definition_fast_path_or_not(value: str) -> None:
    assert markup.one_line(value) == one_line_by_definition(value)


@given(foreign)
def test_plain_text_is_one_clean_line(value: str) -> None:
    shown = markup.plain(value)
    check_plain(shown)
    assert len(shown) <= markup.MAX_BUTTON_TEXT


@given(st.lists(foreign, max_size=6), st.integers(20, 3000))
def test_fit_never_splits_a_token_or_an_entity(values: list[str], limit: int) -> None:
    text = markup.join(" ", [markup.data(v) for v in values] + [markup.mention("U0ALICE01")])
    cut = markup.fit(text, limit)
    assert len(cut) <= max(limit, len(text) if len(text) <= limit else limit)
    check_mrkdwn(cut)


# --- every message, for any foreign text -------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=foreign, message=foreign, code=foreign, state=foreign, text=foreign)
def test_every_message_is_valid_and_safe(
    name: str, message: str, code: str, state: str, text: str
) -> None:
    t = ticket()
    shown_job = job(name, job_id=text, state=state)
    error = MetaStudioError(400, code, message, text, None)
    outcomes = [
        Outcome(Verdict.STOPPED, t, text, StopAnswer.ANSWERED, text, shown_job),
        Outcome(Verdict.STOPPED, t, "ops", StopAnswer.NONE, "", None),
        Outcome(Verdict.STILL_LIVE, t, "ops", StopAnswer.ANSWERED, "rid", shown_job, waited=30),
        Outcome(Verdict.REFUSED, t, "ops", StopAnswer.ANSWERED, text, error=error),
        Outcome(Verdict.UNKNOWN, t, "ops", StopAnswer.NONE, problem=message),
    ]
    replies = [
        refusals.help_text(),
        refusals.help_text(message),
        refusals.not_allowed(text),
        refusals.wrong_channel([text, "C0OPS0001"]),
        refusals.room_not_granted(text, text),
        to_requester.job_missing(text, text, error),
        to_requester.job_not_live(shown_job, NOW),
        to_requester.no_live_jobs(text, name),
        to_requester.room_unreadable(text, message),
        to_requester.confirmation(
            t, text, shown_job, message, 300, NOW, cancel=t.for_purpose("cancel", KEY)
        ),
        to_requester.confirmation(
            ticket(text, text, text),
            text,
            None,
            None,
            300,
            NOW,
            cancel=t.for_purpose("cancel", KEY),
        ),
        to_requester.picker(text, [(shown_job, t)] * 3, NOW),
        to_requester.stopping(ticket(text, text)),
        to_requester.cancelled(ticket(text, text)),
        refusals.expired(ticket(text, text)),
        refusals.not_yours(ticket(requester=text)),
        to_channel.stop_sent(ticket(text, text, text), StopAnswer.NONE),
        to_channel.still_checking(t, shown_job, 12.5),
        to_channel.still_checking(t, None, 12.5),
        to_requester.result_posted(text),
        live_lists.no_room_matches(text),
        live_lists.no_live_in_matches(text, [SmartLiveRoom(room_id=text, room_name=name)] * 12),
        live_lists.live_jobs([(shown_job, "v")], NOW, text),
        to_requester.job_now(shown_job, NOW, stop_value="s"),
        to_requester.job_now(job(name, state="PROCESSING"), NOW, stop_value=text),
        to_requester.job_unchecked(text, text, message),
        to_requester.job_not_live(shown_job, NOW, live=job(name, job_id=text), pick_value=text),
        to_requester.job_missing(text, text, error, [(shown_job, text)] * 3, NOW),
        to_channel.audit_copy(to_channel.announcement(outcomes[0]), text, None),
        live_lists.live_jobs(
            [(shown_job, "v")] * 60, NOW, None, unreadable=[(SmartLiveRoom(room_id=text), message)]
        ),
        live_lists.no_room_matches(text, restricted=True),
        live_lists.nothing_live(),
        live_lists.jobs_unreadable(
            text, [(SmartLiveRoom(room_id=text, room_name=name), message)] * 12
        ),
        live_lists.rooms_unlisted(text, message),
        live_lists.rooms_unlisted(None, message),
        to_requester.job_missing(text, text, MetaStudioError(404, code, message, text, None)),
        *(
            to_channel.announcement(o, console_url=text, check_value="c", stop_value="s")
            for o in outcomes
        ),
        *(to_channel.thread_reply(o, Verdict.UNKNOWN) for o in outcomes),
        *(to_requester.result_posted("C0OPS0001", o) for o in outcomes),
    ]
    for reply in replies:
        check_reply(reply)


@given(name=foreign)
def test_a_room_name_never_adds_a_line(name: str) -> None:
    """Foreign text stays on one line: a message shows as many lines whatever the name."""
    outcome = Outcome(
        Verdict.STILL_LIVE, ticket(), "ops", StopAnswer.ANSWERED, "rid", job(name), waited=5
    )
    benign = Outcome(
        Verdict.STILL_LIVE,
        ticket(),
        "ops",
        StopAnswer.ANSWERED,
        "rid",
        job("Spring sale"),
        waited=5,
    )
    reply, usual = to_channel.announcement(outcome), to_channel.announcement(benign)
    assert reply.text.count("\n") == usual.text.count("\n")
    assert reply.blocks[0]["text"]["text"].count("\n") == usual.blocks[0]["text"]["text"].count(
        "\n"
    )
    assert reply.text.startswith("🔴 Still live: ")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(count=st.integers(0, 500), name=foreign)
def test_any_number_of_live_jobs_gives_a_picker_within_limits(count: int, name: str) -> None:
    choices = [(job(name, job_id=f"job-{n}"), ticket(job_id=f"job-{n}")) for n in range(count)]
    blocks = check_reply(to_requester.picker("room-1", choices, NOW))
    shown = sum("accessory" in b for b in blocks)
    assert shown == min(count, markup.MAX_BLOCKS - 4)
    assert f"{count} live job" in to_requester.picker("room-1", choices, NOW).text
    hidden = count - shown
    more = [b for b in blocks if "and" in json.dumps(b) and "more" in json.dumps(b)]
    if hidden:
        assert any(f"…and {hidden} more: type" in json.dumps(b, ensure_ascii=False) for b in more)
    else:
        assert not any("…and" in json.dumps(b, ensure_ascii=False) for b in blocks)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rooms=st.lists(st.integers(0, 30), max_size=500),
    names=st.lists(foreign, min_size=31, max_size=31),
)
def test_live_jobs_across_rooms_fit_and_say_how_many_are_hidden(
    rooms: list[int], names: list[str]
) -> None:
    choices = [
        (
            SmartLiveJob(
                job_id=f"job-{n}", room_id=f"room-{r}", room_name=names[r], state="PROCESSING"
            ),
            f"value-{n}",
        )
        for n, r in enumerate(rooms)
    ]
    blocks = check_reply(live_lists.live_jobs(choices, NOW, "sale"))
    shown = [b["accessory"]["value"] for b in blocks if "accessory" in b]
    grouped = [f"value-{n}" for r in dict.fromkeys(rooms) for n, m in enumerate(rooms) if m == r]
    assert shown == grouped[: len(shown)]  # grouped by room, rooms in the order first seen
    hidden = len(choices) - len(shown)
    text = json.dumps(blocks, ensure_ascii=False)
    assert (f"…and {hidden} more" in text) == (hidden > 0)
    assert len(shown) >= min(len(choices), 20)  # the budget is used, not wasted


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
    ended_job = SmartLiveJob(
        job_id="j",
        state="SUCCEED",
        start_time="2026-11-24T13:01:00Z",
        end_time="2026-11-24T14:03:05Z",
    )
    ended = datetime(2026, 11, 24, 14, 3, 5, tzinfo=UTC)
    facts = markup.job_facts(ended_job, datetime(2026, 11, 24, 15, 0, tzinfo=UTC))
    assert facts == (f"Ended normally · ended at {markup.clock(ended)} after 1 h 02 min")


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
