"""``/stoplive all`` end to end: signed HTTP posts in, the Slack and MetaStudio stand-ins out,
the store real (SQLite; Redis for two replicas)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.standins.metastudio import NO_SUCH_API, TENANT_JOBS, Fault
from bot.stopflow.tickets import ALL, APPROVE_ALL, STOP_ALL, Ticket, TicketKey
from tests.builders import JOB, ROOM, AuditLines
from tests.conftest import BotFactory
from tests.harness import ALICE, BOB, CHANNEL, SIGNING_SECRET, Harness, buttons

CAROL, DAVE, ERIN = "U0CAROL01", "U0DAVE001", "U0ERIN001"
ROOM2, JOB2 = "34bad716-87b1-45e5-8912-6102f7693265", "36f06524-4f75-4b3a-a853-b649a21aaf66"
ROOM3, JOB3 = "44bad716-87b1-45e5-8912-6102f7693265", "46f06524-4f75-4b3a-a853-b649a21aaf66"
ROOM4, JOB4 = "54bad716-87b1-45e5-8912-6102f7693265", "56f06524-4f75-4b3a-a853-b649a21aaf66"
LATE = "66f06524-4f75-4b3a-a853-b649a21aaf66"
KEY = TicketKey.from_signing_secret(SIGNING_SECRET)


def allowlist(**changes: Any) -> str:
    entries: dict[str, Any] = {
        ALICE: {"app_user_id": "ops-alice", "stop_all": True},
        BOB: {"app_user_id": "ops-bob", "stop_all": True},
        CAROL: {"app_user_id": "ops-carol", "rooms": [ROOM], "stop_all": True},
        DAVE: "ops-dave",
        ERIN: {"app_user_id": "ops-erin", "stop_all": True},
    }
    return json.dumps(entries | changes)


async def start(start_bot: BotFactory, **overrides: Any) -> Harness:
    overrides.setdefault("stoplive_allowlist", allowlist())
    bot = await start_bot(**overrides)
    bot.metastudio.add_job(ROOM2, JOB2, room_name="Night show")
    return bot


async def offered(bot: Harness, user: str = ALICE) -> dict[str, Any]:
    response, hook = await bot.command("all", user)
    assert response.status_code == 200
    return await bot.first_post(hook)


def red_ticket(now: float | None = None) -> Ticket:
    """A red button's ticket for ALICE in CHANNEL, sealed with the bot's key, that no list
    was kept under (issued ``now``, by default at once)."""
    return Ticket.issue(
        key=KEY,
        room_id=ALL,
        job_id=ALL,
        requester=ALICE,
        channel_id=CHANNEL,
        ttl=300,
        response_url="",
        purpose=STOP_ALL,
        now=now,
    )


def red_button(message: dict[str, Any]) -> dict[str, Any]:
    return next(
        e
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "stoplive.stop_all"
    )


def channel_posts(bot: Harness) -> list[dict[str, Any]]:
    return [c.args for c in bot.slack.calls("chat.postMessage") if c.args.get("channel") == CHANNEL]


async def finished(bot: Harness, audit_lines: AuditLines) -> dict[str, Any]:
    await bot.slack.wait_for(lambda: audit_lines("stop_all"), within=20)
    for _ in range(400):  # then the batch's last words (they follow its audit line)
        if len(bot.stoplive.background) == 0:
            break
        await asyncio.sleep(0.05)
    [line] = audit_lines("stop_all")
    return line


def stopped(bot: Harness) -> set[str]:
    return {s.path.split("/")[-2] for s in bot.metastudio.calls("POST", "/stop")}


async def test_without_the_grant_it_is_refused_with_the_reason(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start(start_bot)
    response, hook = await bot.command("ALL", DAVE)
    assert (
        "stop-all grant" in response.json()["text"]
        and "Nothing was stopped" in response.json()["text"]
    )
    assert bot.metastudio.seen == [] and bot.slack.posts(hook) == []
    assert audit_lines()[-1]["outcome"] == "refused_no_stop_all"


async def test_the_confirmed_set_is_stopped_each_as_its_own_stop_and_one_message_tallies_them(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start(start_bot)
    ms = bot.metastudio
    ms.add_job(ROOM3, JOB3, room_name="Cooking")
    ms.add_job(ROOM4, JOB4, room_name="Quiz")
    ms.inject(JOB2, Fault("stays_live"))
    ms.inject(
        JOB3, Fault("status", status=400, body={"error_code": "MSS.00000003", "error_msg": "no"})
    )
    ms.inject(JOB4, Fault("lost_answer"))
    ms.inject(JOB4, Fault("status", on="get", status=500, times=1000))
    message = await offered(bot)
    text = json.dumps(message)
    assert "Stop all 4 streams live now?" in text and "Night show" in text and "live for" in text
    button = red_button(message)
    assert button["style"] == "danger" and button["confirm"]["title"]["text"] == "Stop 4 streams?"
    assert stopped(bot) == set()
    ms.add_job(ROOM, LATE)  # started after the list: not in the confirmed set

    await bot.click("stoplive.stop_all", button["value"])
    batch = await finished(bot, audit_lines)

    assert stopped(bot) == {JOB, JOB2, JOB3, JOB4} and ms.jobs[LATE].stops == 0
    assert batch["detail"].startswith("4 jobs") and batch["outcome"] == "not_all"
    outcomes = {line["job"]: line for line in audit_lines("outcome")}
    assert set(outcomes) == {JOB, JOB2, JOB3, JOB4}
    assert {line["batch"] for line in outcomes.values()} == {batch["batch"]}
    assert outcomes[JOB]["outcome"] == "stopped" and outcomes[JOB2]["outcome"] == "still_live"
    assert outcomes[JOB3]["outcome"] == "refused" and outcomes[JOB4]["outcome"] == "unknown"
    entries = await bot.stoplive.store.recent(time.time() - 60)  # each its own journal entry
    assert sorted(e.job_id for e in entries) == sorted([JOB, JOB2, JOB3, JOB4])

    posts = channel_posts(bot)
    [aggregate] = [p for p in posts if not p.get("thread_ts")]
    [thread] = [p for p in posts if p.get("thread_ts")]
    final = bot.final_channel_message()
    assert final is not None
    final_text = json.dumps(final, ensure_ascii=False)
    assert "Stopped 1 of 4 streams" in final_text and "1 🔴 still live" in final_text
    assert "1 ❓ unknown" in final_text and "1 ❌ not stopped" in final_text
    assert "Live now, not in the confirmed list" in final_text and "Spring sale" in final_text
    assert thread["reply_broadcast"] in (True, "true", "1") and "Not stopped" in thread["text"]
    again = [v for k, v in buttons_all(thread).items() if k == "stoplive.stop_again"]
    assert again and aggregate["text"].startswith("⏳ Stopping 4 streams")
    assert "if this stops filling in, stoplive restarted" in json.dumps(aggregate)
    assert "stops filling in" not in final_text


def buttons_all(message: dict[str, Any]) -> dict[str, str]:
    blocks = message.get("blocks")
    if isinstance(blocks, str):
        message = {**message, "blocks": json.loads(blocks)}
    found: dict[str, str] = {}
    for block in message["blocks"]:
        accessory = block.get("accessory")
        if accessory:
            found[accessory["action_id"]] = accessory.get("value", "")
    return found | buttons(message)


async def test_a_restricted_user_stops_only_their_rooms_and_a_job_in_flight_is_reported(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start(start_bot)
    bot.metastudio.add_job(ROOM, LATE)
    message = await offered(bot, CAROL)
    assert "Night show" not in json.dumps(message) and "Stop all 2 streams" in json.dumps(message)
    store = bot.stoplive.store
    assert await store.claim(f"job:{ROOM}:{LATE}", f"{BOB}/other", 60) is None  # BOB's stop

    await bot.click("stoplive.stop_all", red_button(message)["value"], CAROL)
    await finished(bot, audit_lines)

    assert stopped(bot) == {JOB}
    final = json.dumps(bot.final_channel_message(), ensure_ascii=False)
    assert "being stopped by someone else" in final and "Stopped 1 of 2" in final
    [refused] = [line for line in audit_lines("confirm") if line["outcome"] == "refused_in_flight"]
    assert refused["job"] == LATE


async def test_tickets_of_other_purposes_stale_ones_and_a_lost_list_stop_nothing(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start(start_bot)
    value = red_button(await offered(bot))["value"]
    _, hook = await bot.click("stoplive.confirm", value)  # the red button's value as a Stop
    await bot.slack.wait_for(lambda: bot.slack.posts(hook))
    confirm_value, _ = await bot.confirmation(f"{ROOM} {JOB}")
    _, hook = await bot.click("stoplive.stop_all", confirm_value)  # a Stop's as the red button
    await bot.slack.wait_for(lambda: bot.slack.posts(hook))
    old = red_ticket(now=time.time() - 400)
    _, hook = await bot.click("stoplive.stop_all", old.encode())
    assert "Expired" in (await bot.first_post(hook))["text"]
    fresh = red_ticket()  # sealed by us, but no list was ever kept under it
    _, hook = await bot.click("stoplive.stop_all", fresh.encode())
    assert "this list is no longer held" in (await bot.first_post(hook))["text"]
    # a note that is not a set of IDs (a crafted or damaged store) stops nothing
    garbled = red_ticket()
    await bot.stoplive.store.put_note(f"stop_all:{garbled.id}", '{"jobs": [["../x", "y", ""]]}', 60)
    _, hook = await bot.click("stoplive.stop_all", garbled.encode())
    assert "this list is no longer held" in (await bot.first_post(hook))["text"]
    await asyncio.sleep(0.2)
    assert stopped(bot) == set()
    outcomes = [
        line["outcome"]
        for line in audit_lines()
        if line["event"] in ("confirm", "stop_all_confirm")
    ]
    assert outcomes.count("refused_bad_ticket") == 2 and "expired" in outcomes
    assert outcomes.count("list_unread") == 2


async def test_a_grant_revoked_after_the_list_refuses_the_click(
    start_bot: BotFactory, audit_lines: AuditLines, tmp_path: Path
) -> None:
    path = tmp_path / "allowlist.json"
    path.write_text(allowlist())
    bot = await start(start_bot, stoplive_allowlist=None, stoplive_allowlist_file=str(path))
    value = red_button(await offered(bot))["value"]
    path.write_text(allowlist(**{ALICE: "ops-alice"}))
    assert bot.stoplive.settings.allowlist.reload()  # what SIGHUP (or the file watch) does
    _, hook = await bot.click("stoplive.stop_all", value)
    assert "stop-all grant" in (await bot.first_post(hook))["text"]
    assert stopped(bot) == set()
    assert audit_lines("stop_all_confirm")[-1]["outcome"] == "refused_no_stop_all"


async def two_person(start_bot: BotFactory, **overrides: Any) -> tuple[Harness, dict[str, str]]:
    bot = await start(start_bot, stoplive_stop_all_approval="two-person", **overrides)
    await bot.click("stoplive.stop_all", red_button(await offered(bot))["value"])
    ask = await bot.slack.wait_for(lambda: (channel_posts(bot) or [None])[0])
    assert "asks to stop 2 streams" in ask["text"] and stopped(bot) == set()
    return bot, buttons_all(ask)


async def test_two_person_the_requester_cannot_approve_a_second_person_does(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot, ask = await two_person(start_bot)
    approve = ask["stoplive.approve_all"]
    _, hook = await bot.click("stoplive.approve_all", approve, ALICE)
    assert "Not yours to approve" in (await bot.first_post(hook))["text"]
    _, hook = await bot.click("stoplive.approve_all", approve, DAVE)  # no stop-all grant
    assert "stop-all grant" in (await bot.first_post(hook))["text"]
    _, hook = await bot.click("stoplive.approve_all", approve, CAROL)  # Night show: not hers
    assert "you may not stop streams in room" in (await bot.first_post(hook))["text"]
    await asyncio.sleep(0.2)
    assert stopped(bot) == set()

    await bot.click("stoplive.approve_all", approve, BOB)
    batch = await finished(bot, audit_lines)
    assert stopped(bot) == {JOB, JOB2}
    assert batch["approved_by"] == BOB and batch["slack_user"] == ALICE
    assert {line["approved_by"] for line in audit_lines("outcome")} == {BOB}
    final = json.dumps(bot.final_channel_message(), ensure_ascii=False)
    assert "Stopped all 2 streams" in final and f"approved by <@{BOB}>" in final
    _, hook = await bot.click("stoplive.approve_all", approve, ERIN)  # once only
    assert "Already handled" in (await bot.first_post(hook))["text"]


async def test_two_person_an_approval_after_the_requester_lost_the_grant_is_refused(
    start_bot: BotFactory, audit_lines: AuditLines, tmp_path: Path
) -> None:
    path = tmp_path / "allowlist.json"
    path.write_text(allowlist())
    bot, ask = await two_person(
        start_bot, stoplive_allowlist=None, stoplive_allowlist_file=str(path)
    )
    path.write_text(allowlist(**{ALICE: {"app_user_id": "ops-alice"}}))
    assert bot.stoplive.settings.allowlist.reload()
    _, hook = await bot.click("stoplive.approve_all", ask["stoplive.approve_all"], BOB)
    assert f"<@{ALICE}> may no longer stop everything" in (await bot.first_post(hook))["text"]
    assert stopped(bot) == set() and not audit_lines("stop_all")


async def test_two_person_an_expired_request_is_refused_and_says_so(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot, ask = await two_person(start_bot, stoplive_confirm_ttl=2)
    await asyncio.sleep(2.1)
    _, hook = await bot.click("stoplive.approve_all", ask["stoplive.approve_all"], BOB)
    assert "Expired" in (await bot.first_post(hook))["text"]
    closed = await bot.slack.wait_for(bot.final_channel_message)
    assert "expired before anyone approved it" in closed["text"]
    assert stopped(bot) == set() and not audit_lines("stop_all")


async def test_an_expired_approve_click_after_the_batch_never_says_nothing_was_stopped(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    """The request's message becomes the batch's tally once approved; an old Approve clicked
    (or replayed, by anyone) after the ticket expired must not revise it to "Nothing was
    stopped": the expiry claims the approval first, and finds it taken."""
    bot, ask = await two_person(start_bot, stoplive_confirm_ttl=3)
    approve = ask["stoplive.approve_all"]
    await bot.click("stoplive.approve_all", approve, BOB)
    await finished(bot, audit_lines)
    assert stopped(bot) == {JOB, JOB2}
    assert "Stopped all 2 streams" in json.dumps(bot.final_channel_message(), ensure_ascii=False)
    await asyncio.sleep(3.2)  # the request's ticket expires (its note lives 300 s more)
    _, hook = await bot.click("stoplive.approve_all", approve, "U0MALLORY1")  # off the allowlist
    assert "Expired" in (await bot.first_post(hook))["text"]
    for _ in range(100):  # the click's work done
        if len(bot.stoplive.background) == 0:
            break
        await asyncio.sleep(0.05)
    final = json.dumps(bot.final_channel_message(), ensure_ascii=False)
    assert "Nothing was stopped" not in final, final
    assert "Stopped all 2 streams" in final


async def test_an_approval_a_faster_clocked_replica_closed_as_expired_says_expired(
    start_bot: BotFactory,
) -> None:
    """Replicas judge expiry by their own clocks: one ahead may close the request (taking the
    approval as "expired") while this one still lets an Approve through. That approver is
    told it expired and nothing was stopped, not that "someone approved"."""
    bot, ask = await two_person(start_bot)
    approve = ask["stoplive.approve_all"]
    ticket = Ticket.decode(
        approve, bot.stoplive.workflow.policy.ticket_key, 300, purpose=APPROVE_ALL
    )
    assert isinstance(ticket, Ticket)
    assert await bot.stoplive.store.claim(f"approve_all:{ticket.id}", "expired", 600) is None
    _, hook = await bot.click("stoplive.approve_all", approve, BOB)
    said = (await bot.first_post(hook))["text"]
    assert said.startswith("⌛ Expired") and "Nothing was stopped" in said
    await asyncio.sleep(0.2)
    assert stopped(bot) == set()


async def test_two_approvers_at_once_on_two_replicas_run_it_once(
    start_bot: BotFactory, audit_lines: AuditLines, redis_url: str
) -> None:
    first, ask = await two_person(start_bot, stoplive_redis_url=redis_url)
    second = await start_bot(
        stoplive_redis_url=redis_url,
        stoplive_allowlist=allowlist(),
        stoplive_stop_all_approval="two-person",
    )
    approve = ask["stoplive.approve_all"]
    await asyncio.gather(
        first.click("stoplive.approve_all", approve, BOB),
        second.click("stoplive.approve_all", approve, ERIN),
    )
    await finished(first, audit_lines)
    await asyncio.sleep(0.5)
    assert len(audit_lines("stop_all")) == 1
    paths = [s.path for s in first.metastudio.calls("POST", "/stop")]
    assert len(paths) == len(set(paths)) == 2  # each job stopped once, by one replica
    assert stopped(first) == {JOB, JOB2}
    approvals = sorted(line["outcome"] for line in audit_lines("approve_all"))
    assert approvals == ["approved", "ignored_already_used"]


@pytest.mark.parametrize("value", ['"true"', "1", "null"])
def test_a_stop_all_that_is_not_a_boolean_refuses_the_entry(value: str) -> None:
    from bot.stopflow.allowlist import Allowlist

    text = '{"U0ALICE01": {"app_user_id": "ops-alice", "stop_all": ' + value + "}}"
    allowlist, problems = Allowlist.salvage(json.loads(text), source="test")
    assert ALICE not in allowlist.grants
    assert problems == ["test, entry 'U0ALICE01': stop_all must be true or false (a JSON boolean)"]
    _, problems = Allowlist.salvage(
        {ALICE: {"app_user_id": "ops-alice", "stopall": True}}, source="test"
    )
    assert "unknown key 'stopall'" in problems[0]


@pytest.mark.parametrize("value", ["three-person", "", "yes"])
def test_a_bad_approval_setting_refuses_start_up_in_one_line(value: str) -> None:
    from bot.config import ConfigError, load_settings
    from tests.test_config import BASE

    with pytest.raises(ConfigError) as refused:
        load_settings(**{**BASE, "stoplive_stop_all_approval": value})
    [line] = [x for x in str(refused.value).splitlines() if "STOP_ALL_APPROVAL" in x]
    assert (
        line.strip() == "- STOPLIVE_STOP_ALL_APPROVAL: Input should be 'one-person' or 'two-person'"
    )


async def test_two_person_the_requester_may_withdraw_and_buttons_keep_their_purpose(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot, ask = await two_person(start_bot)
    _, hook = await bot.click("stoplive.stop_all", ask["stoplive.approve_all"], ALICE)
    assert "not valid" in (await bot.first_post(hook))["text"].lower()
    _, hook = await bot.click("stoplive.withdraw_all", ask["stoplive.withdraw_all"], BOB)
    assert "Not yours" in (await bot.first_post(hook))["text"]
    await bot.click("stoplive.withdraw_all", ask["stoplive.withdraw_all"], ALICE)
    closed = await bot.slack.wait_for(bot.final_channel_message)
    assert "withdrew the request to stop 2 streams" in closed["text"]
    _, hook = await bot.click("stoplive.approve_all", ask["stoplive.approve_all"], BOB)
    assert "Already handled" in (await bot.first_post(hook))["text"]
    assert stopped(bot) == set() and not audit_lines("stop_all")


async def test_more_than_fit_are_summarised_and_all_of_them_stopped(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start(start_bot)
    many = {
        f"{n:08x}-87b1-45e5-8912-6102f7693265": f"{n:08x}-4f75-4b3a-a853-b649a21aaf66"
        for n in range(45)
    }
    for room, job in many.items():
        bot.metastudio.add_job(room, job, room_name=f"Stream {'x' * 70} {room[:8]}")
    message = await offered(bot)
    assert len(message["blocks"]) <= 50
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in message["blocks"])
    assert "…and 11 more: they are stopped too." in json.dumps(message, ensure_ascii=False)
    button = red_button(message)
    assert len(button["value"]) <= 2000 and button["confirm"]["title"]["text"] == "Stop 47 streams?"

    began = time.monotonic()
    await bot.click("stoplive.stop_all", button["value"])
    batch = await finished(bot, audit_lines)
    assert stopped(bot) == {JOB, JOB2, *many.values()} and batch["outcome"] == "all_stopped"
    # one message, revised at most once a second (Slack's pace for a channel), plus the final
    assert len(channel_posts(bot)) == 1
    assert len(bot.slack.calls("chat.update")) <= time.monotonic() - began + 2
    assert "✅ Stopped all 47 streams" in bot.final_channel_message()["text"]  # type: ignore[index]


async def test_a_list_not_read_whole_never_says_all_stopped(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start(start_bot)
    bot.metastudio.inject(
        TENANT_JOBS, Fault("status", on="list", status=404, body=NO_SUCH_API, times=10**6)
    )
    bot.metastudio.inject(ROOM2, Fault("status", on="list", status=500, times=10**6))
    message = await offered(bot)
    text = json.dumps(message, ensure_ascii=False)
    assert "Stop the 1 stream live now?" in text and "Couldn't read the jobs of 1 room" in text

    await bot.click("stoplive.stop_all", red_button(message)["value"])
    await finished(bot, audit_lines)
    assert stopped(bot) == {JOB}
    final = json.dumps(bot.final_channel_message(), ensure_ascii=False)
    assert "Stopped every listed stream (1)" in final and "The list was not read whole" in final
    assert "all 1 stream" not in final


async def test_a_shutdown_mid_batch_leaves_the_tally_saying_what_is_unknown(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start(start_bot, stoplive_watch_seconds=60, transport={"drain_seconds": 0.2})
    bot.metastudio.inject(JOB2, Fault("stays_live"))
    await bot.click("stoplive.stop_all", red_button(await offered(bot))["value"])
    await bot.slack.wait_for(lambda: "1 ✅" in (bot.final_channel_message() or {}).get("text", ""))
    await asyncio.wait_for(bot.transport.close(), 10)
    final = bot.final_channel_message()
    assert final is not None and "Stopped 1 of 2 streams" in final["text"]
    assert "1 ❓ unknown" in final["text"]
    [batch] = audit_lines("stop_all")
    assert batch["outcome"] == "not_all" and "1 unknown" in batch["detail"]
    [cut] = [line for line in audit_lines("outcome") if line["job"] == JOB2]
    assert cut["outcome"] == "shut_down" and cut["batch"] == batch["batch"]


@pytest.mark.parametrize(
    ("text", "stop_all"), [("all", True), (" ALL ", True), ("All", True), ("all stars", False)]
)
def test_all_alone_in_any_case_is_stop_all_and_never_a_room_search(
    text: str, stop_all: bool
) -> None:
    from bot.stopflow.command import RoomSearch, StopAll, parse

    assert isinstance(parse(text), StopAll if stop_all else RoomSearch)


async def test_a_shutdown_before_some_stops_were_sent_says_they_were_not_stopped(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    """More jobs than stops in flight, all slow: a shutdown finds some never sent. They are
    known still live ("not stopped", never "unknown"), and the thread lists them with Stop
    again, as it lists any batch's failures."""
    from bot.stopflow.batch import STOPS_IN_FLIGHT

    bot = await start(start_bot, transport={"drain_seconds": 0.2})
    ms = bot.metastudio
    for n in range(10):
        room, job = f"{n:08x}-87b1-45e5-8912-6102f7693265", f"{n:08x}-4f75-4b3a-a853-b649a21aaf66"
        ms.add_job(room, job, room_name=f"Show {n}")
    for job in list(ms.jobs):
        ms.inject(job, Fault("slow", seconds=60, times=1000))
    never = len(ms.jobs) - STOPS_IN_FLIGHT
    await bot.click("stoplive.stop_all", red_button(await offered(bot))["value"])
    await bot.slack.wait_for(lambda: len(stopped(bot)) >= STOPS_IN_FLIGHT, within=10)
    await asyncio.sleep(0.3)
    assert len(stopped(bot)) == STOPS_IN_FLIGHT
    await asyncio.wait_for(bot.transport.close(), 15)
    final = bot.final_channel_message()
    assert final is not None
    assert f"{never} ❌ not stopped" in final["text"], final["text"]
    assert f"{STOPS_IN_FLIGHT} ❓ unknown" in final["text"], final["text"]
    [thread] = [p for p in channel_posts(bot) if p.get("thread_ts")]
    listed = json.dumps(thread, ensure_ascii=False)
    assert listed.count("not sent: stoplive shut down first") == never
    assert listed.count("Stop again") >= len(ms.jobs)
    [batch] = audit_lines("stop_all")
    assert f"{never} not_stopped" in batch["detail"]


async def test_two_jobs_of_one_room_are_told_apart_in_the_list(start_bot: BotFactory) -> None:
    bot = await start(start_bot)
    bot.metastudio.add_job(ROOM2, JOB3, room_name="Night show")
    message = await offered(bot)
    lines = [
        line
        for b in message["blocks"]
        if b["type"] == "section"
        for line in b["text"]["text"].split("\n")
        if "Night show" in line
    ]
    assert len(lines) == 2 and lines[0] != lines[1], lines
    assert all(any(f"job {j[:8]}…" in line for line in lines) for j in (JOB2, JOB3)), lines
