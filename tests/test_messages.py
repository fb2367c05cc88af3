"""Pure pieces: parsing, escaping, tickets, retry timing and the words of each message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.metastudio.errors import MetaStudioError
from bot.metastudio.models import SmartLiveJob, SmartLiveRoom
from bot.metastudio.retry import RetryPolicy, parse_retry_after
from bot.stopflow.outcome import Outcome, StopAnswer, Verdict
from bot.stopflow.tickets import Ticket
from bot.stopflow.words import actions, live_lists, markup, refusals, to_channel, to_requester
from bot.stopflow.words.markup import span
from tests import builders
from tests.builders import TICKET_KEY

NOW = datetime(2026, 11, 24, 14, 3, 5, tzinfo=UTC)
KEY = TICKET_KEY


def ticket(**changes: object) -> Ticket:
    return builders.ticket(
        **({"room_id": "room-1", "job_id": "job-1", "channel_id": "C1"} | changes)
    )


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


# --- escaping: foreign text is shown as data -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("<!channel>", "`&lt;!channel&gt;`"),
        ("@channel please", "`\uff20channel please`"),
        ("@HERE", "`\uff20HERE`"),
        ("a & b", "`a &amp; b`"),
        ("<@U123|bob>", "`&lt;@U123|bob&gt;`"),
        ("*bold* ~x~ https://evil.example", "`*bold* ~x~ https://evil.example`"),
        ("two\nlines\r\n\u2028three", "`two lines three`"),
        ("tick`s```", "`tick\u02cbs\u02cb\u02cb\u02cb`"),
        ("\u202egnp.exe\u200b\x00", "`gnp.exe`"),
        ("  \n\t ", "(blank)"),
        ("plain", "`plain`"),
    ],
)
def test_data_shows_foreign_text_as_one_inert_line(raw: str, shown: str) -> None:
    assert markup.data(raw) == shown


def test_data_cuts_with_an_ellipsis_and_never_inside_an_entity() -> None:
    assert markup.data("abcdefgh", 5) == "`abcd…`"
    assert markup.data("a&b", 4) == "`a…`"  # "a&a" would cut "&amp;" in half
    assert markup.data("a&bc", 7) == "`a&amp;…`"
    assert markup.data("x" * 5000, 80) == "`" + "x" * 79 + "…`"
    assert markup.data("\n" * 10**6 + "x", 80) == "`…`"  # read in part: cheap, still marked cut


def test_mentions_and_channels_only_from_slack_ids() -> None:
    assert markup.mention("U0ALICE01") == "<@U0ALICE01>"
    assert markup.mention("<!channel>") == "`&lt;!channel&gt;`"
    assert markup.channel("C0OPS0001") == "<#C0OPS0001>"
    assert markup.channel("#general>") == "`#general&gt;`"


def test_our_words_escape_placeholders_and_keep_formatting() -> None:
    assert markup.words("*Use* `<room_id>` & {x}", x=markup.data("<b>")) == (
        "*Use* `&lt;room_id&gt;` &amp; `&lt;b&gt;`"
    )


def test_clock_is_a_slack_date_token_with_a_utc_fallback() -> None:
    assert markup.clock(NOW) == f"<!date^{int(NOW.timestamp())}^{{time}}|14:03 UTC>"


def test_fit_cuts_at_a_space_before_a_token() -> None:
    text = "word " * 10 + "<@U0ALICE01>"
    assert markup.fit(text, 55) == ("word " * 10).rstrip() + "…"


def test_reply_payload_never_unfurls_and_has_a_plain_fallback() -> None:
    reply = markup.Reply(text="x" * 4000, blocks=[markup.section(markup.words("hi"))] * 60)
    payload = reply.payload()
    assert payload["unfurl_links"] is False and payload["unfurl_media"] is False
    assert len(payload["blocks"]) == 50 and len(payload["text"]) == markup.MAX_TEXT
    assert reply.plain().payload() == {
        "text": "x" * (markup.MAX_PLAIN - 1) + "…",
        "unfurl_links": False,
        "unfurl_media": False,
    }


# --- the words of each message ----------------------------------------------------------------


def job(
    state: str = "PROCESSING", ended: bool = False, name: str | None = "Spring sale"
) -> SmartLiveJob:
    return SmartLiveJob(
        job_id="job-1",
        room_id="room-1",
        room_name=name,
        state=state,
        start_time="2026-11-24T13:01:00Z",
        end_time="2026-11-24T14:03:05Z" if ended else None,
    )


@pytest.mark.parametrize(
    ("state", "word"),
    [
        ("WAITING", "Starting"),
        ("PROCESSING", "Live"),
        ("SUCCEED", "Ended normally"),
        ("FAILED", "Ended with an error"),
        ("BLOCKED", "Blocked"),
        ("PAUSED", "Unknown state"),
    ],
)
def test_states_in_plain_words(state: str, word: str) -> None:
    assert markup.state_word(job(state)) == word


def test_a_room_without_a_name_shows_a_short_id() -> None:
    assert markup.room_label("24bad716-87b1-45e5-8912-6102f7693265", None) == "`room 24bad716…`"
    assert markup.room_label("r-1", " \n") == "`room r-1`"
    assert markup.room_label("r-1", "Spring sale") == "`Spring sale`"


def test_help_shows_placeholders_escaped() -> None:
    reply = refusals.help_text()
    assert "`/stoplive &lt;room_id&gt; &lt;job_id&gt;`" in reply.text
    assert "<room_id>" not in str(reply.payload())
    problem = refusals.help_text("got 3 words <!here>")
    assert problem.text.startswith("⚠️ Not understood: `got 3 words &lt;!here&gt;`")


def test_confirmation_says_what_will_happen_and_when_it_expires() -> None:
    t = ticket(now=NOW.timestamp())
    reply = to_requester.confirmation(
        t,
        "ops-alice",
        job(name="<!channel> sale"),
        None,
        300,
        NOW,
        cancel=t.for_purpose("cancel", KEY),
    )
    shown = reply.blocks[0]["text"]["text"]
    assert shown.startswith(
        "*Stop `&lt;!channel&gt; sale`?* Viewers see the stream end now; a stopped job cannot be "
        "resumed (start a new one in MetaStudio)."
    )
    assert "<!channel>" not in str(reply.payload())
    assert "Live · live for 1 h 02 min (since <!date^" in shown
    small = reply.blocks[1]["elements"][0]["text"]
    expires = int(NOW.timestamp()) + 300
    assert f"expires at <!date^{expires}^{{time}}|14:08 UTC>" in small
    assert "Room `room-1` · Job `job-1` · as MetaStudio user `ops-alice`" in small
    assert "MetaStudio state `PROCESSING`" in small
    assert reply.text.startswith("Stop `&lt;!channel&gt; sale`? Viewers see the stream end now.")
    confirm, cancel = reply.blocks[2]["elements"]
    assert confirm["style"] == "danger" and "style" not in cancel
    assert confirm["accessibility_label"] == "Stop \u2039!channel\u203a sale now"
    opened = Ticket.decode(confirm["value"], KEY, 300, purpose="confirm")
    assert isinstance(opened, Ticket) and opened.job_id == "job-1"


def test_confirmation_after_a_failed_read_still_offers_the_stop() -> None:
    t = ticket()
    reply = to_requester.confirmation(
        t, "ops-alice", None, "HTTP 500", 300, NOW, cancel=t.for_purpose("cancel", KEY)
    )
    assert "⚠️ I couldn't read the job (`HTTP 500`); you can still stop it." in str(reply.blocks)
    assert reply.text.startswith("Stop `room room-1`?")


def test_picker_offers_plain_stop_buttons_named_for_screen_readers() -> None:
    choices = [(job(), ticket()), (job("WAITING"), ticket())]
    reply = to_requester.picker("room-1", choices, NOW)
    assert reply.text.startswith("*Choose the job to stop:* 2 live jobs in `Spring sale`.")
    buttons = [b["accessory"] for b in reply.blocks if "accessory" in b]
    assert [b["text"]["text"] for b in buttons] == ["Stop…", "Stop…"]
    label = "Stop job job-1… (you confirm next)"
    assert all("style" not in b and b["accessibility_label"] == label for b in buttons)
    assert "Starting" in str(reply.blocks) and "…and" not in str(reply.blocks)


def test_picker_says_how_many_it_could_not_show() -> None:
    reply = to_requester.picker("room-1", [(job(), ticket())] * 100, NOW)
    assert len(reply.blocks) == 50
    assert "…and 54 more: type `/stoplive room-1 &lt;job_id&gt;`." in str(reply.blocks)


def test_requester_messages_lead_with_the_verdict() -> None:
    t = ticket()
    error = MetaStudioError(404, "MSS.404", "not found", "rid-9", None)
    assert to_requester.job_missing("room-1", "job-1", error).text.startswith(
        "🔍 Not found: MetaStudio has no job `job-1` in room `room-1`."
    )
    assert to_requester.job_not_live(job("SUCCEED", True), NOW).text.startswith(
        "✅ Already ended: `Spring sale` is not live (Ended normally), so there is nothing to stop."
    )
    assert to_requester.no_live_jobs("room-1", None).text.startswith(
        "✅ No live job in `room room-1`"
    )
    assert to_requester.cancelled(t).text.startswith(
        "↩️ Cancelled: job `job-1` in room `room-1` is still live."
    )
    assert refusals.expired(t).text.startswith("⌛ Expired:")
    assert "`/stoplive room-1 job-1`" in refusals.expired(t).text
    assert refusals.not_yours(t).text.startswith("⛔ Not yours: only <@U0ALICE01> can confirm")
    assert refusals.wrong_channel(["C2", "C1"]).text.startswith(
        "⛔ Wrong channel: /stoplive works only in <#C1>, <#C2>."
    )
    assert to_requester.room_unreadable("room-1", "timeout").text.startswith(
        "⚠️ Couldn't list the jobs of room `room-1`: `timeout`"
    )


def outcome(verdict: Verdict, **changes: object) -> Outcome:
    values: dict[str, object] = {"answer": StopAnswer.ANSWERED, "request_id": "rid-1", "job": job()}
    values.update(changes)
    return Outcome(verdict, ticket(), "ops-alice", **values)  # type: ignore[arg-type]


def test_announcements_lead_with_the_verdict_and_keep_the_small_print() -> None:
    stopped = to_channel.announcement(outcome(Verdict.STOPPED, job=job("SUCCEED", True)))
    assert stopped.text.startswith("✅ Stopped: `Spring sale` · by <@U0ALICE01>\n")
    assert "The stream ended at <!date^" in stopped.text and "after 1 h 02 min." in stopped.text
    small = stopped.blocks[1]["elements"][0]["text"]
    assert small == (
        "Room `room-1` · Job `job-1` · MetaStudio user `ops-alice` · MetaStudio request `rid-1` "
        "· MetaStudio state `SUCCEED`"
    )
    live = to_channel.announcement(outcome(Verdict.STILL_LIVE, waited=30))
    assert live.text.startswith("🔴 Still live: `Spring sale` · stop asked by <@U0ALICE01>")
    assert "accepted the stop, but the stream is still Live after 30 s." in live.text
    error = MetaStudioError(500, "MSS.00000004", "Internal <Error>", "rid-2", None)
    refused = to_channel.announcement(outcome(Verdict.REFUSED, job=None, error=error))
    assert refused.text.startswith(
        "❌ MetaStudio refused to stop `room room-1`: `MSS.00000004` (`Internal &lt;Error&gt;`)"
    )
    assert "Nothing was stopped (HTTP 500)." in refused.text
    unknown = to_channel.announcement(outcome(Verdict.UNKNOWN, job=None, problem="timeout"))
    assert unknown.text.startswith("❓ Outcome unknown: `room room-1`")
    assert "could not be read to confirm it ended (`timeout`)" in unknown.text
    for reply, word in [
        (stopped, "Stopped"),
        (live, "Still live"),
        (refused, "refused"),
        (unknown, "unknown"),
    ]:
        assert word in reply.text[:40]


def test_a_lost_answer_is_said_beside_the_verdict() -> None:
    lost = to_channel.announcement(outcome(Verdict.STOPPED, answer=StopAnswer.NONE, request_id=""))
    assert "MetaStudio's answer to the stop was lost" in lost.text
    assert "no MetaStudio request ID" in lost.text


def test_outcome_buttons_are_optional_and_safe() -> None:
    assert to_channel.outcome_actions() is None
    block = to_channel.outcome_actions(
        console_url="https://console.huaweicloud.com/metastudio/#/x",
        check_value="check-1",
        stop_value="stop-1",
    )
    assert block is not None
    ids = [
        (e["action_id"], e.get("value"), e.get("url"), e.get("style")) for e in block["elements"]
    ]
    assert ids == [
        (
            actions.OPEN_CONSOLE_ACTION,
            None,
            "https://console.huaweicloud.com/metastudio/#/x",
            None,
        ),
        (actions.CHECK_AGAIN_ACTION, "check-1", None, None),
        (actions.STOP_AGAIN_ACTION, "stop-1", None, None),
    ]
    assert to_channel.outcome_actions(console_url="javascript:alert(1)") is None
    assert to_channel.outcome_actions(console_url="http://console.local/x") is not None
    assert to_channel.outcome_actions(console_url="https://a\nb") is None
    assert to_channel.outcome_actions(check_value="x" * 2001) is None
    with_buttons = to_channel.announcement(outcome(Verdict.STILL_LIVE), check_value="c")
    assert with_buttons.blocks[-1]["elements"][0]["text"]["text"] == "Check again"


def test_result_posted_note_points_at_the_channel() -> None:
    assert to_requester.result_posted("C0OPS0001").text == "Done: result posted in <#C0OPS0001>."
    note = to_requester.result_posted("C0OPS0001", outcome(Verdict.STOPPED))
    assert note.text == (
        "✅ Stopped: `Spring sale` · by <@U0ALICE01> · Done: result posted in <#C0OPS0001>"
    )


def test_thread_reply_is_short_and_names_a_changed_verdict() -> None:
    reply = to_channel.thread_reply(
        outcome(Verdict.STILL_LIVE, waited=60), previous=Verdict.UNKNOWN
    )
    first, second = reply.text.split("\n")
    assert (
        first == "🔴 Still live: `Spring sale` · stop asked by <@U0ALICE01> (was: Outcome unknown)"
    )
    assert second.startswith(
        "MetaStudio accepted the stop, but the stream is still Live after 1 min 00 s."
    )
    same = to_channel.thread_reply(
        outcome(Verdict.STOPPED, job=job("SUCCEED", True)), Verdict.STOPPED
    )
    assert "(was:" not in same.text and same.text.startswith("✅ Stopped:") and not same.blocks
    recovered = to_channel.thread_reply(outcome(Verdict.UNKNOWN, recovered_by="host-2:17:ab"))
    assert recovered.text.startswith("❓ Outcome unknown")
    assert recovered.text.endswith("(Checked again after stoplive restarted.)")


def test_still_checking_says_the_job_is_being_watched() -> None:
    reply = to_channel.still_checking(ticket(), job(), 45)
    assert reply.text.startswith("⏳ Still checking: `Spring sale` · stop asked by <@U0ALICE01>\n")
    assert "After 45 s the job is Live; I keep watching until it ends." in reply.text
    assert "MetaStudio state `PROCESSING`" in reply.text
    assert "not readable yet" in to_channel.still_checking(ticket(), None, 5).text


def test_live_jobs_across_rooms_are_grouped_by_room() -> None:
    def live(job_id: str, room_id: str, name: str) -> SmartLiveJob:
        return SmartLiveJob(job_id=job_id, room_id=room_id, room_name=name, state="PROCESSING")

    choices = [
        (live("j1", "r1", "Spring sale"), "v1"),
        (live("j2", "r2", "Autumn sale"), "v2"),
        (live("j3", "r1", "Spring sale"), "v3"),
    ]
    reply = live_lists.live_jobs(choices, NOW, "sale")
    assert reply.text == "*Choose the job to stop:* 3 live jobs in 2 rooms matching `sale`."
    kinds = [
        b["elements"][0]["text"].split(" · ")[0]
        if b["type"] == "context"
        else b["accessory"]["value"]
        for b in reply.blocks[1:-1]
    ]
    assert kinds == ["*`Spring sale`*", "v1", "v3", "*`Autumn sale`*", "v2"]
    assert all(
        b["accessory"]["action_id"] == actions.PICK_ACTION for b in reply.blocks if "accessory" in b
    )


def test_room_search_replies() -> None:
    assert live_lists.no_room_matches("spring <!here>").text.startswith(
        "🔍 No room matches `spring &lt;!here&gt;`."
    )
    rooms = [SmartLiveRoom(room_id="r1", room_name="Spring sale"), SmartLiveRoom(room_id="r2")]
    assert live_lists.no_live_in_matches("sale", rooms).text == (
        "✅ Nothing live: 2 rooms match `sale`, but none has a live job, so there is nothing to "
        "stop. Rooms: `Spring sale`, `room r2`."
    )


def test_stop_sent_says_it_is_checking() -> None:
    reply = to_channel.stop_sent(ticket(), StopAnswer.ANSWERED)
    assert reply.text.startswith("⏳ Stopping: `room room-1` · by <@U0ALICE01>\n")
    assert "MetaStudio accepted the stop; checking the job…" in reply.text
    assert "did not answer" in to_channel.stop_sent(ticket(), StopAnswer.NONE).text


def test_a_list_that_left_rooms_out_says_which_and_why() -> None:
    live = SmartLiveJob(job_id="j1", room_id="r1", room_name="Spring sale", state="PROCESSING")
    unread = [(SmartLiveRoom(room_id="r2", room_name="Gala <!here>"), "HTTP 500 MSS.00000004")]
    reply = live_lists.live_jobs([(live, "v1")], NOW, None, unreadable=unread)
    assert reply.text == (
        "*Choose the job to stop:* 1 live job in 1 room.\n⚠️ Couldn't read the jobs of 1 room: "
        "`Gala &lt;!here&gt;` (`HTTP 500 MSS.00000004`). A live job there is not listed; use "
        "`/stoplive &lt;room_id&gt;` for that room."
    )
    assert reply.blocks[1]["type"] == "context" and "Gala" in str(reply.blocks[1])
    said = live_lists.jobs_unreadable("gala", unread).text
    assert said.startswith("⚠️ Couldn't tell which jobs are live matching `gala`. Nothing was")


def test_the_job_read_metastudio_refused_says_what_it_said() -> None:
    error = MetaStudioError(400, "MSS.00000003", "Invalid parameter", "rid-1", None)
    reply = to_requester.job_missing("room-1", "job-1", error)
    assert reply.text.startswith(
        "🔍 MetaStudio would not read job `job-1` in room `room-1`: it answered HTTP 400 "
        "`MSS.00000003`: `Invalid parameter`. So I can't tell whether the job is live, and offer "
        "no Stop button. Nothing was stopped."
    )
    not_found = MetaStudioError(404, "MSS.00000005", "Resource not found", "rid-2", None)
    assert to_requester.job_missing("room-1", "job-1", not_found).text.startswith("🔍 Not found:")


def test_restricted_and_empty_lists_speak_of_the_rooms_one_may_stop() -> None:
    assert live_lists.no_room_matches("gala", restricted=True).text.startswith(
        "🔍 No room you may stop matches `gala`."
    )
    assert live_lists.nothing_live().text.startswith("✅ Nothing live: no room you may stop")
    assert live_lists.rooms_unlisted(None, "HTTP 500").text.startswith(
        "⚠️ Couldn't list the rooms: `HTTP 500`"
    )


def test_the_notes_before_the_job_is_read_name_the_stream_confirmed() -> None:
    """The stop call's notes and a refused stop read no job: they name the room the requester
    confirmed (kept in the ticket), and the IDs go in the small print."""
    named = ticket(room_name="Product launch")
    note = to_requester.stopping(named)
    assert note.text.startswith("⏳ Stopping `Product launch`… the result will be posted")
    assert "Room `room-1` · Job `job-1`" in note.text
    assert to_channel.stop_sent(named, StopAnswer.ANSWERED).text.startswith(
        "⏳ Stopping: `Product launch` · by <@U0ALICE01>\n"
    )
    refused = Outcome(
        Verdict.REFUSED,
        named,
        "ops-alice",
        StopAnswer.ANSWERED,
        error=MetaStudioError(400, "MSS.00000003", "Invalid parameter", "rid-1", None),
    )
    head = to_channel.announcement(refused).text.split("\n")[0]
    assert head.startswith("❌ MetaStudio refused to stop `Product launch`: ")
    assert to_requester.stopping(ticket()).text.startswith("⏳ Stopping `room room-1`…")
