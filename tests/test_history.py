"""The last day of stops (``/stoplive recent``, the Home tab) and the outcome buttons' words:
built from journal entries, within Slack's limits, safe for any text a journal could hold."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from slack_sdk.models.blocks import Block as SdkBlock
from slack_sdk.models.views import View

from bot.metastudio.errors import MetaStudioError
from bot.metastudio.models import SmartLiveJob
from bot.stopflow import history
from bot.stopflow.allowlist import Allowlist, Grant
from bot.stopflow.buttons import JobRef, OutcomeButtons
from bot.stopflow.history import History
from bot.stopflow.outcome import Outcome, StopAnswer, Verdict
from bot.stopflow.policy import Policy
from bot.stopflow.store import JournalEntry, MemoryStore, StoreUnavailable
from bot.stopflow.tickets import TicketKey
from bot.stopflow.words import actions, home, markup, to_channel, to_requester
from bot.stopflow.words.home import permalink
from tests import builders
from tests.test_markup_properties import check_mrkdwn, check_reply, foreign

WORKSPACE = "https://acme.slack.com/"
NOW = time.time()
ROOM = "24bad716-87b1-45e5-8912-6102f7693265"
OTHER_ROOM = "room-other"
DAY_TOKEN = re.compile(
    r"<!date\^\d+\^\{date_short_pretty\} at \{time\}\|[A-Z][a-z]{2} \d\d \d\d:\d\d UTC>"
)
LINK = re.compile(r"<https://acme\.slack\.com/archives/[CG][A-Z0-9]+/p\d+\|channel message>")


def entry(n: int = 0, **changes: Any) -> JournalEntry:
    """The ``n``-th most recent finished stop, a minute before the one before it."""
    values: dict[str, Any] = {
        "stop_id": f"stop-{n}",
        "job_id": f"job-{n}",
        "created_at": NOW - 60 * n,
        "channel_ts": f"1700000000.{n:06d}",
        "outcome": "stopped",
        "step": "finished",
        "finished_at": NOW - 60 * n + 5,
    }
    return builders.journal_entry(**(values | changes))


def policy(**grants: Any) -> Policy:
    allowlist = json.dumps(grants or {"U0ALICE01": "ops-alice"})
    return Policy(
        allowlist=Allowlist.from_text(allowlist, source="test"),
        contact="#ops-leads",
        confirm_ttl=120,
        ticket_key=TicketKey.from_signing_secret("s"),
    )


def safe(text: str) -> None:
    check_mrkdwn(LINK.sub("", DAY_TOKEN.sub("", text)))


def check_view(view: dict[str, Any]) -> list[dict[str, Any]]:
    """What Slack checks of a Home view: its type, at most 100 valid blocks, safe text."""
    View(**view).validate_json()
    assert view["type"] == "home" and len(view["blocks"]) <= home.MAX_HOME_BLOCKS
    for block in view["blocks"]:
        SdkBlock.parse(block).validate_json()  # type: ignore[union-attr]
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= markup.MAX_SECTION_TEXT
            safe(block["text"]["text"])
        elif block["type"] == "context":
            for element in block["elements"]:
                safe(element["text"])
        else:
            assert block["type"] == "header"
    return list(view["blocks"])


def shown(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


# --- /stoplive recent -------------------------------------------------------------------------


def test_recent_lists_who_what_when_result_and_the_message_link() -> None:
    entries = [entry(0), entry(1, outcome="still_live"), entry(2, finished_at=0.0, outcome="")]
    reply = home.recent_reply(entries, WORKSPACE)
    assert reply.text.startswith("🕘 *3 stops in the last 24 h*")
    blocks = reply.blocks
    assert len(blocks) == 4
    first = blocks[1]["text"]["text"]
    assert first.startswith("*✅ Stopped* · by <@U0ALICE01> · <!date^")
    assert "<#C0INCIDENT>" in first
    assert f"<{WORKSPACE}archives/C0INCIDENT/p1700000000000000|channel message>" in first
    assert f"Room `{ROOM}` · Job `job-0`" in first
    assert blocks[2]["text"]["text"].startswith("*🔴 Still live*")
    assert blocks[3]["text"]["text"].startswith("*⏳ In progress*")


def test_recent_with_nothing_or_an_unreadable_store_says_so() -> None:
    assert home.recent_reply([], WORKSPACE).text == "🕘 No stops in the last 24 h."
    restricted = home.recent_reply([], WORKSPACE, restricted=True)
    assert restricted.text == "🕘 No stops in your rooms in the last 24 h."
    down = home.recent_reply(None, WORKSPACE)
    assert down.text.startswith("⚠️ Couldn't read the stop history")


def test_recent_shows_what_fits_and_says_how_many_are_older() -> None:
    reply = home.recent_reply([entry(n) for n in range(120)], WORKSPACE)
    blocks = check_reply_with_links(reply)
    assert len(blocks) == markup.MAX_BLOCKS
    assert blocks[-1]["elements"][0]["text"] == "…and 72 older stops."


def check_reply_with_links(reply: markup.Reply) -> list[dict[str, Any]]:
    """check_reply, with our day tokens and message links allowed."""
    cleaned = markup.Reply(
        text=LINK.sub("", DAY_TOKEN.sub("", reply.text)),
        blocks=json.loads(LINK.sub("", DAY_TOKEN.sub("", json.dumps(reply.blocks)))),
    )
    check_reply(cleaned)
    return reply.blocks


def test_an_entry_names_its_room_as_the_confirmation_did_and_keeps_the_ids() -> None:
    named = home.entry_text(entry(room_name="Night *market* <!here>"), WORKSPACE)
    assert f"`Night *market* &lt;!here&gt;` · Room `{ROOM}` · Job `" in named
    safe(named)
    assert " · Room `" in home.entry_text(entry(), WORKSPACE)  # none kept: the IDs alone


def test_a_verdict_this_version_does_not_know_is_shown_as_data() -> None:
    text = home.entry_text(entry(outcome="<!channel> melted"), WORKSPACE)
    assert text.startswith("*❓ `&lt;!channel&gt; melted`*")
    safe(text)


@pytest.mark.parametrize(
    ("workspace", "channel", "ts"),
    [
        ("https://evil.example/", "C0INCIDENT", "1700000000.000100"),
        ("https://acme.slack.com/|x>", "C0INCIDENT", "1700000000.000100"),
        (WORKSPACE, "C0INC|<!here>", "1700000000.000100"),
        (WORKSPACE, "C0INCIDENT", ""),
        (WORKSPACE, "C0INCIDENT", "1700000000.000100>"),
        ("", "C0INCIDENT", "1700000000.000100"),
    ],
)
def test_a_link_is_made_only_of_well_formed_pieces(workspace: str, channel: str, ts: str) -> None:
    assert permalink(workspace, channel, ts) is None


def test_a_link_has_slacks_permalink_form() -> None:
    link = permalink(WORKSPACE, "C0INCIDENT", "1700000000.000100")
    assert link == "https://acme.slack.com/archives/C0INCIDENT/p1700000000000100"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    room=foreign,
    job=foreign,
    requester=foreign,
    channel=foreign,
    ts=foreign,
    outcome=foreign,
    workspace=foreign,
)
def test_any_journal_text_gives_a_valid_safe_list(
    room: str, job: str, requester: str, channel: str, ts: str, outcome: str, workspace: str
) -> None:
    weird = entry(
        room_id=room, job_id=job, requester=requester, channel_id=channel, channel_ts=ts
    ).with_changes(outcome=outcome, recovered_from="host-1")
    for url in (workspace, WORKSPACE):
        check_reply_with_links(home.recent_reply([weird, entry(1)], url))
        check_view(home.home_view(Grant("ops-alice"), policy(), [weird] * 3, url))


# --- who sees what ----------------------------------------------------------------------------


def test_a_restricted_grant_sees_only_its_rooms() -> None:
    entries = [entry(0), entry(1, room_id=OTHER_ROOM)]
    assert history.visible_to(Grant("ops", frozenset({ROOM})), entries) == [entries[0]]
    assert history.visible_to(Grant("ops"), entries) == entries


def test_the_home_tab_says_whether_and_as_whom_the_viewer_may_stop() -> None:
    everyone = policy(U0ALICE01="ops-alice")
    blocks = check_view(home.home_view(Grant("ops-alice"), everyone, [entry(0)], WORKSPACE))
    text = shown(blocks)
    assert "✅ *You may stop streams* as MetaStudio user `ops-alice`." in text
    assert "Rooms: every room." in text and "1 stop in the last 24 h" in text
    assert "*✅ Stopped* · by <@U0ALICE01>" in text

    room_only = Grant("ops-bob", frozenset({ROOM}))
    text = shown(check_view(home.home_view(room_only, everyone, [], WORKSPACE)))
    assert f"Rooms: only `{ROOM}`." in text and "No stops in your rooms in the last 24 h" in text


def test_the_home_tab_shows_no_history_to_someone_off_the_allowlist() -> None:
    blocks = check_view(home.home_view(None, policy(), [entry(0)], WORKSPACE))
    text = shown(blocks)
    assert "⛔ *You may not stop streams:*" in text and "`#ops-leads`" in text
    assert "job-0" not in text and len(blocks) == 2


def test_the_home_tab_fits_a_busy_day_and_a_store_that_is_down() -> None:
    blocks = check_view(
        home.home_view(Grant("ops"), policy(), [entry(n) for n in range(300)], WORKSPACE)
    )
    assert len(blocks) == home.MAX_HOME_BLOCKS
    assert blocks[-1]["elements"][0]["text"] == "…and 204 older stops."
    down = shown(check_view(home.home_view(Grant("ops"), policy(), None, WORKSPACE)))
    assert "Couldn't read the stop history" in down


class DownStore(MemoryStore):
    async def recent(self, since: float) -> list[JournalEntry]:
        raise StoreUnavailable("connection refused")


async def test_history_reads_the_journal_and_filters_by_grant() -> None:
    store = MemoryStore()
    for n, room in enumerate((ROOM, OTHER_ROOM)):
        await store.begin(entry(n, room_id=room, finished_at=0.0, step="confirmed"), "r1", 15)
    rules = policy(U0ALICE01="ops-alice", U0BOB0002={"app_user_id": "ops-bob", "rooms": [ROOM]})
    desk = History(rules, store)
    alice = shown((await desk.home("U0ALICE01", WORKSPACE))["blocks"])
    bob = shown((await desk.home("U0BOB0002", WORKSPACE))["blocks"])
    assert "job-0" in alice and "job-1" in alice
    assert "job-0" in bob and "job-1" not in bob
    mallory = await desk.home("U0MALLORY", WORKSPACE)
    assert "job-0" not in shown(mallory["blocks"])
    reply = await desk.recent(Grant("ops-bob", frozenset({ROOM})), WORKSPACE)
    assert reply.text.startswith("🕘 *1 stop in the last 24 h in your rooms*")


async def test_a_store_that_is_down_is_said_not_raised() -> None:
    desk = History(policy(), DownStore())
    assert (await desk.recent(Grant("ops"), WORKSPACE)).text.startswith("⚠️ Couldn't read")
    assert "Couldn't read" in shown((await desk.home("U0ALICE01", WORKSPACE))["blocks"])


# --- the outcome buttons ----------------------------------------------------------------------


def live_job(state: str = "PROCESSING") -> SmartLiveJob:
    return SmartLiveJob(
        job_id="job-1",
        room_id=ROOM,
        room_name="Spring sale",
        state=state,
        start_time="2026-11-24T13:01:00Z",
        end_time=None if state in ("PROCESSING", "WAITING") else "2026-11-24T14:00:00Z",
        request_id="rid-7",
    )


@pytest.mark.parametrize(
    ("state", "first"),
    [
        ("PROCESSING", "🔴 Still live: `Spring sale` is Live"),
        ("SUCCEED", "✅ Ended: `Spring sale` is not live (Ended normally)"),
        ("PAUSED", "❓ Unknown state: `Spring sale`"),
    ],
)
def test_check_again_says_the_state_in_plain_words(state: str, first: str) -> None:
    now = datetime(2026, 11, 24, 14, 3, 5, tzinfo=UTC)
    reply = to_requester.job_now(live_job(state), now, stop_value=f"{ROOM} job-1")
    blocks = check_reply(reply)
    assert reply.text.startswith(first)
    assert state in reply.text and f"Room `{ROOM}` · Job `job-1`" in reply.text
    assert "MetaStudio request `rid-7`" in reply.text
    stop_again = [
        e for b in blocks if b["type"] == "actions" for e in b["elements"]
    ]  # "Stop again" unless it has ended: a state stoplive does not know may still be live
    assert [e["action_id"] for e in stop_again] == (
        [] if state == "SUCCEED" else [actions.STOP_AGAIN_ACTION]
    )


def test_check_again_that_cannot_read_says_nothing_changed() -> None:
    reply = to_requester.job_unchecked(ROOM, "job-1", "MetaStudio took too long to answer")
    check_reply(reply)
    assert reply.text.startswith("❓ Couldn't check job `job-1`")
    assert "Nothing was changed" in reply.text


@given(foreign)
def test_a_button_value_names_a_room_and_job_or_nothing(value: str) -> None:
    ref = JobRef.decode(value)
    if ref is not None:
        assert ref.encode() == value and "/" not in value and "?" not in value


def test_a_button_value_round_trips() -> None:
    ref = JobRef(ROOM, "job-1")
    assert JobRef.decode(ref.encode()) == ref
    for bad in ("", ROOM, f"{ROOM} ../x", f"{ROOM}  job-1", f"{ROOM} job-1 x", "a b\n"):
        assert JobRef.decode(bad) is None


# --- an ended or unknown job points to what is live; the audit copy says where from -----------


def test_an_ended_job_offers_the_rooms_live_one() -> None:
    now = datetime(2026, 11, 24, 14, 3, 5, tzinfo=UTC)
    ended = live_job("SUCCEED")
    other = live_job().model_copy(update={"job_id": "job-2", "start_time": "2026-11-24T13:35:00Z"})
    reply = to_requester.job_not_live(ended, now, live=other, pick_value="ticket-2")
    blocks = check_reply(reply)
    assert reply.text.startswith("✅ Already ended: `Spring sale` is not live")
    offer = blocks[-1]
    assert offer["text"]["text"].startswith(
        "`Spring sale` has another live stream, started <!date^"
    )
    assert "job `job-2`" in offer["text"]["text"]
    assert offer["accessory"]["text"]["text"] == "Stop that one…"
    assert offer["accessory"]["action_id"] == actions.PICK_ACTION
    assert offer["accessory"]["value"] == "ticket-2" and "style" not in offer["accessory"]
    alone = check_reply(to_requester.job_not_live(ended, now))
    assert all(b["type"] != "section" or "accessory" not in b for b in alone)


def test_an_unknown_job_suggests_swapped_ids_and_offers_the_rooms_list() -> None:
    error = MetaStudioError(404, "MSS.404", "not found", "rid-9", None)
    reply = to_requester.job_missing(ROOM, "job-x", error, [(live_job(), "t1")] * 2)
    blocks = check_reply(reply)
    assert reply.text.startswith("🔍 Not found: MetaStudio has no job `job-x`")
    assert "Did you swap the IDs? The room ID comes first" in reply.text
    assert blocks[2]["text"]["text"] == "The room has 2 live jobs:"
    assert [b["accessory"]["value"] for b in blocks[3:]] == ["t1", "t1"]
    many = check_reply(to_requester.job_missing(ROOM, "job-x", error, [(live_job(), "t")] * 80))
    assert len(many) == markup.MAX_BLOCKS and "…and 34 more" in many[-1]["elements"][0]["text"]
    assert len(check_reply(to_requester.job_missing(ROOM, "job-x", error))) == 2


def test_the_audit_copy_starts_with_where_the_stop_came_from() -> None:
    shown = markup.section(markup.words("x"))
    buttons = to_channel.outcome_actions(check_value="c")
    assert buttons is not None
    posted = markup.Reply(text="✅ Stopped: `Spring sale`", blocks=[shown, buttons])
    link = "https://acme.slack.com/archives/C0INCIDENT/p1700000000000100"
    copy = to_channel.audit_copy(posted, "C0INCIDENT", link)
    assert copy.text.startswith("From <#C0INCIDENT>: ✅ Stopped")
    assert (
        copy.blocks[0]["elements"][0]["text"]
        == f"From <#C0INCIDENT> · <{link}|the channel message>"
    )
    assert copy.blocks[1:] == [shown]  # a record: no buttons to act from the audit channel
    for hostile in ("https://evil.example/x", f"{link}|<!here>", f"{link}>", "javascript:x"):
        unlinked = to_channel.audit_copy(posted, "C0INCIDENT", hostile)
        assert unlinked.blocks[0]["elements"][0]["text"] == "From <#C0INCIDENT>"
    text_only = to_channel.audit_copy(markup.Reply(text="✅ Stopped"), "C0INCIDENT", None)
    assert text_only.blocks[1]["text"]["text"] == "✅ Stopped"


def test_outcome_buttons_link_to_the_console_and_stop_again_only_while_live() -> None:
    t = builders.ticket(job_id="job-1", ttl=60)
    links = OutcomeButtons(
        "https://console.example/{region}/{project_id}/rooms/{room_id}/jobs/{job_id}",
        "cn-north-4",
        "p" * 32,
    )
    live = links.for_outcome(
        Outcome(Verdict.STILL_LIVE, t, "ops", StopAnswer.ANSWERED, job=live_job())
    )
    assert live == {
        "console_url": f"https://console.example/cn-north-4/{'p' * 32}/rooms/{ROOM}/jobs/job-1",
        "check_value": f"{ROOM} job-1",
        "stop_value": f"{ROOM} job-1",
    }
    ended = links.for_outcome(
        Outcome(Verdict.STOPPED, t, "ops", StopAnswer.ANSWERED, job=live_job("SUCCEED"))
    )
    assert ended["stop_value"] is None and ended["check_value"] == f"{ROOM} job-1"
    unknown = links.for_outcome(Outcome(Verdict.UNKNOWN, t, "ops", StopAnswer.NONE))
    assert unknown["stop_value"] is None
    assert (
        OutcomeButtons().for_outcome(Outcome(Verdict.STOPPED, t, "ops", StopAnswer.ANSWERED))[
            "console_url"
        ]
        is None
    )


@given(workspace=foreign, channel_id=foreign, ts=foreign)
def test_a_permalink_is_never_a_token_breaker(workspace: str, channel_id: str, ts: str) -> None:
    for url in (workspace, WORKSPACE):
        link = permalink(url, channel_id, ts)
        if link is not None:
            assert LINK.fullmatch(f"<{link}|channel message>"), link
            made = markup.slack_link(link, "the channel message")
            assert made == f"<{link}|the channel message>"


@given(url=foreign)
def test_a_slack_link_keeps_to_slacks_own_pages(url: str) -> None:
    made = markup.slack_link(url, "the channel message")
    if made is not None:
        assert made.startswith("<https://") and ".slack.com/" in made
        inside = made[1 : -len("|the channel message>")]
        assert not set(inside) & set("<>| \n") and inside.split("/")[2].endswith(".slack.com")
