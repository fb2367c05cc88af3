"""On-call power, end to end: details before confirming, stopping knowing only the room,
proving the stop, and the guardrails."""

from __future__ import annotations

import json
from pathlib import Path

from bot.sandbox.standins.metastudio import Fault
from tests.builders import JOB, ROOM
from tests.conftest import BotFactory
from tests.harness import ALICE, BOB, CHANNEL, buttons

OTHER_ROOM = "9d1f0c2e-0000-4000-8000-00000000abcd"


async def test_a_missing_job_gets_a_clear_answer_and_the_rooms_live_job(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot()
    _, hook = await bot.command(f"{ROOM} 00000000-0000-4000-8000-000000000000")
    message = await bot.first_post(hook)
    assert "MetaStudio has no job" in message["text"] and "Did you swap the IDs?" in message["text"]
    # no Stop button for a job MetaStudio does not know; the room's live job is offered instead
    offered = buttons(message)
    assert set(offered) == {"stoplive.pick"} and f'"{JOB}"' in offered["stoplive.pick"]


async def test_an_ended_job_gets_a_clear_answer_and_the_rooms_live_job(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot()
    ended = "0b7e5c1a-3d2f-4e8a-9c6b-5a4d3e2f1a0b"
    bot.metastudio.add_job(ROOM, ended, state="SUCCEED")
    _, hook = await bot.command(f"{ROOM} {ended}")
    message = await bot.first_post(hook)
    assert "is not live" in message["text"] and "SUCCEED" in message["text"]
    assert "nothing to stop" in message["text"] and "stoplive.confirm" not in buttons(message)
    # the room's live job is offered (a pick that leads to its own confirmation)
    assert f'"{JOB}"' in buttons(message)["stoplive.pick"]


async def test_a_failed_lookup_still_lets_the_requester_confirm(start_bot: BotFactory) -> None:
    bot = await start_bot()
    bot.metastudio.inject(JOB, Fault("status", on="get", status=500, times=10))
    _, hook = await bot.command(f"{ROOM} {JOB}")
    message = await bot.first_post(hook)
    assert "couldn't read the job" in json.dumps(message) and "stoplive.confirm" in buttons(message)


async def test_room_with_one_live_job_goes_straight_to_its_confirmation(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot()
    bot.metastudio.add_job(ROOM, "old-job", state="SUCCEED")
    _, hook = await bot.command(ROOM)
    message = await bot.first_post(hook)
    assert set(buttons(message)) == {"stoplive.confirm", "stoplive.cancel"}
    # one command, one click:
    await bot.click("stoplive.confirm", buttons(message)["stoplive.confirm"])
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert final["text"].startswith("✅ Stopped: `Spring sale`") and JOB in final["text"]


async def test_room_with_several_live_jobs_lists_them_to_pick(start_bot: BotFactory) -> None:
    bot = await start_bot()
    bot.metastudio.add_job(ROOM, "second-job", state="WAITING")
    _, hook = await bot.command(ROOM)
    picker = await bot.first_post(hook)
    picks = [b["accessory"]["value"] for b in picker["blocks"] if "accessory" in b]
    assert len(picks) == 2 and "2 live jobs" in picker["text"]
    assert bot.metastudio.calls("POST", "/stop") == []
    _, pick_hook = await bot.click("stoplive.pick", picks[1])
    confirmation = await bot.first_post(pick_hook)
    assert confirmation["replace_original"] is True and "second-job" in json.dumps(confirmation)
    await bot.click("stoplive.confirm", buttons(confirmation)["stoplive.confirm"])
    await bot.slack.wait_for(bot.final_channel_message)
    assert bot.metastudio.jobs["second-job"].state == "SUCCEED"
    assert bot.metastudio.jobs[JOB].state == "PROCESSING"


async def test_room_with_nothing_live(start_bot: BotFactory) -> None:
    bot = await start_bot()
    bot.metastudio.jobs[JOB].state = "FAILED"
    _, hook = await bot.command(ROOM)
    message = await bot.first_post(hook)
    assert "No live job" in message["text"] and buttons(message) == {}


async def test_a_stop_whose_answer_is_lost_is_reconciled_from_the_job(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot()
    bot.metastudio.inject(JOB, Fault("lost_answer"))
    value, _ = await bot.confirmation(f"{ROOM} {JOB}")
    await bot.click("stoplive.confirm", value)
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert (
        final["text"].startswith("✅ Stopped:") and "answer to the stop was lost" in final["text"]
    )
    assert len(bot.metastudio.calls("POST", "/stop")) == 1  # never sent twice
    assert len(bot.slack.calls("chat.postMessage")) == 1  # one message, revised in place


async def test_a_dropped_stop_is_read_then_sent_again_while_the_job_is_live(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot(stoplive_verify_seconds=0.5)
    bot.metastudio.inject(JOB, Fault("drop"))
    value, _ = await bot.confirmation(f"{ROOM} {JOB}")
    await bot.click("stoplive.confirm", value)
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert final["text"].startswith("✅ Stopped:") and bot.metastudio.jobs[JOB].stops == 1
    stops_and_reads = [s.method for s in bot.metastudio.seen if s.path.endswith(("/stop", JOB))]
    assert stops_and_reads[:4] == ["GET", "POST", "GET", "POST"]  # confirmation, stop, read, stop


async def test_a_lost_stop_that_did_not_apply_says_so(start_bot: BotFactory) -> None:
    bot = await start_bot(stoplive_verify_seconds=0.5)
    bot.metastudio.inject(JOB, Fault("drop", times=10))  # every attempt, the job read live
    value, _ = await bot.confirmation(f"{ROOM} {JOB}")
    await bot.click("stoplive.confirm", value)
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert final["text"].startswith("🔴 Still live:")
    assert "did not answer the stop, but the stream is still Live" in final["text"]
    assert "state `PROCESSING`" in final["text"]
    assert "It may not have stopped" in final["text"]


async def test_a_job_that_stays_processing_is_reported_truthfully(start_bot: BotFactory) -> None:
    bot = await start_bot(stoplive_verify_seconds=0.8)
    bot.metastudio.inject(JOB, Fault("stays_live"))
    value, _ = await bot.confirmation(f"{ROOM} {JOB}")
    await bot.click("stoplive.confirm", value)
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert "accepted the stop, but the stream is still Live after" in final["text"]
    assert len(bot.metastudio.calls("GET", JOB)) >= 3  # polled, with backoff, within the bound
    assert await bot.stoplive.background.drain(5)
    posted, reply = (c.args for c in bot.slack.calls("chat.postMessage"))  # one message, and
    assert "thread_ts" not in posted and reply["reply_broadcast"] is True  # a loud reply


async def test_unreadable_after_a_lost_stop_is_unknown(start_bot: BotFactory) -> None:
    bot = await start_bot(stoplive_verify_seconds=0.5)
    value, _ = await bot.confirmation(f"{ROOM} {JOB}")
    bot.metastudio.inject(JOB, Fault("lost_answer"))
    bot.metastudio.inject(JOB, Fault("status", on="get", status=500, times=100))
    await bot.click("stoplive.confirm", value)
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert (
        final["text"].startswith("❓ Outcome unknown:")
        and "Check MetaStudio before trying again" in final["text"]
    )


async def test_allowed_channels_guard(start_bot: BotFactory) -> None:
    bot = await start_bot(stoplive_allowed_channels="C0OPS0001, C0OPS0002")
    response, _ = await bot.command(f"{ROOM} {JOB}", channel=CHANNEL)
    text = response.json()["text"]
    assert "works only in <#C0OPS0001>, <#C0OPS0002>" in text
    assert bot.metastudio.seen == []


async def test_per_user_room_restrictions_from_a_yaml_allowlist(
    start_bot: BotFactory, tmp_path: Path
) -> None:
    allowlist = tmp_path / "allowlist.yaml"
    allowlist.write_text(
        f"{ALICE}: ops-alice\n{BOB}:\n  app_user_id: ops-bob\n  rooms: [{OTHER_ROOM}]\n"
    )
    bot = await start_bot(stoplive_allowlist=None, stoplive_allowlist_file=str(allowlist))
    response, _ = await bot.command(f"{ROOM} {JOB}", user=BOB)
    assert "you may not stop streams in room" in response.json()["text"]
    assert bot.metastudio.seen == []
    _, hook = await bot.command(f"{ROOM} {JOB}", user=ALICE)
    assert "stoplive.confirm" in buttons(await bot.first_post(hook))


async def test_every_outcome_is_copied_to_the_audit_channel(start_bot: BotFactory) -> None:
    bot = await start_bot(stoplive_audit_channel="C0AUDIT01")
    value, _ = await bot.confirmation(f"{ROOM} {JOB}")
    await bot.click("stoplive.confirm", value)
    copies = await bot.slack.wait_for(
        lambda: [c for c in bot.slack.calls("chat.postMessage") if c.args["channel"] == "C0AUDIT01"]
    )
    assert f"✅ Stopped: `Spring sale` · by <@{ALICE}>" in copies[0].args["text"]
    assert "MetaStudio request `" in json.dumps(copies[0].args["blocks"])


async def test_an_answer_about_another_rooms_job_is_refused_to_everyone(
    start_bot: BotFactory,
) -> None:
    """A MetaStudio that finds jobs by ID alone answers ``/stoplive A <job of B>`` about B's
    job; a stop sent under room A would then end B's stream. Nobody gets a button for it."""
    bot = await start_bot(
        stoplive_allowlist=json.dumps(
            {ALICE: {"app_user_id": "ops-alice", "rooms": [ROOM]}, BOB: "ops-bob"}
        )
    )
    other_job = "0c1d2e3f-0000-4000-8000-00000000b0b0"
    bot.metastudio.add_job(OTHER_ROOM, other_job)
    bot.metastudio.jobs_by_id_alone = True
    for user in (ALICE, BOB):
        _, hook = await bot.command(f"{ROOM} {other_job}", user=user)
        message = await bot.first_post(hook)
        assert "Not stopping: MetaStudio says job" in message["text"], user
        assert buttons(message) == {}
    assert await bot.stoplive.background.drain(5)
    assert bot.metastudio.calls("POST", "/stop") == []


async def test_an_answer_that_does_not_name_the_room_gives_no_button_to_someone_granted_some_rooms(
    start_bot: BotFactory,
) -> None:
    """A MetaStudio that finds jobs by ID alone and leaves ``room_id`` out of its answer shows
    nothing about the job's room: a restricted user gets no button (the unrestricted do)."""
    bot = await start_bot(
        stoplive_allowlist=json.dumps(
            {ALICE: {"app_user_id": "ops-alice", "rooms": [ROOM]}, BOB: "ops-bob"}
        )
    )
    other_job = "0c1d2e3f-0000-4000-8000-00000000b0b1"
    bot.metastudio.add_job(OTHER_ROOM, other_job)
    bot.metastudio.jobs_by_id_alone = True
    bot.metastudio.job_answers_name_the_room = False
    _, hook = await bot.command(f"{ROOM} {other_job}")
    message = await bot.first_post(hook)
    assert "did not name the job's room" in message["text"] and buttons(message) == {}
    _, bob_hook = await bot.command(f"{ROOM} {other_job}", user=BOB)
    assert "stoplive.confirm" in buttons(await bot.first_post(bob_hook))
    assert await bot.stoplive.background.drain(5)
    assert bot.metastudio.calls("POST", "/stop") == []


async def test_a_failed_read_gives_no_button_to_someone_granted_some_rooms(
    start_bot: BotFactory,
) -> None:
    """Only a read that shows the job in the room earns a restricted user a Stop button: with
    the read failing, the job might be another room's (the unrestricted still confirm)."""
    bot = await start_bot(
        stoplive_allowlist=json.dumps(
            {ALICE: {"app_user_id": "ops-alice", "rooms": [ROOM]}, BOB: "ops-bob"}
        )
    )
    bot.metastudio.inject(JOB, Fault("status", on="get", status=500, times=10))
    _, hook = await bot.command(f"{ROOM} {JOB}")
    message = await bot.first_post(hook)
    assert "can't check that it is in room" in message["text"] and buttons(message) == {}
    _, bob_hook = await bot.command(f"{ROOM} {JOB}", user=BOB)
    assert "stoplive.confirm" in buttons(await bot.first_post(bob_hook))
