"""One truthful outcome in every corner, end to end over loopback: a stop applied behind a
gateway's 5xx, a job state stoplive does not know, "still live" said loudly when first known,
and a replica whose store refused writes mid-stop."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import replace

import pytest

from bot.sandbox.redis_server import RedisServer
from bot.sandbox.standins.metastudio import INVALID, Fault
from bot.stopflow.store import Claim, JournalEntry, MemoryStore, StoreUnavailable, Taken
from bot.stopflow.words.home import entry_text
from tests.builders import JOB, ROOM, AuditLines
from tests.conftest import BotFactory
from tests.harness import buttons
from tests.test_e2e_replicas import orphan

STOP = f"{ROOM} {JOB}"
GATEWAY_TIMEOUT = "<html><body><h1>504 Gateway Time-out</h1></body></html>"


# --- a stop applied behind a 5xx ----------------------------------------------------------------


async def test_a_stop_applied_behind_a_gateway_504_is_stopped_not_refused(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start_bot()
    bot.metastudio.inject(JOB, Fault("applied", status=504, body=GATEWAY_TIMEOUT))
    value, _ = await bot.confirmation(STOP)
    await bot.click("stoplive.confirm", value)
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert final["text"].startswith("✅ Stopped:")
    assert "does not say whether it was applied; the job's state confirms it" in final["text"]
    assert "refused" not in final["text"] and "Nothing was stopped" not in final["text"]
    assert len(bot.metastudio.calls("POST", "/stop")) == 1  # read first: it had ended
    assert await bot.stoplive.background.drain(5)
    [line] = audit_lines("outcome")
    assert line["outcome"] == "stopped" and "stop answer unclear" in str(line["detail"])


async def test_a_stop_answered_only_by_5xx_is_never_announced_as_refused(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start_bot(stoplive_verify_seconds=0.5)
    bot.metastudio.inject(JOB, Fault("status", status=503, times=10))  # never applied
    value, _ = await bot.confirmation(STOP)
    await bot.click("stoplive.confirm", value)
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert final["text"].startswith("🔴 Still live:")
    assert "an error that does not say whether it was applied" in final["text"]
    assert "refused" not in final["text"] and "Nothing was stopped" not in final["text"]
    stops_and_reads = [s.method for s in bot.metastudio.seen if s.path.endswith(("/stop", JOB))]
    assert stops_and_reads[1:6] == ["POST", "GET", "POST", "GET", "POST"]  # each read first
    assert await bot.stoplive.background.drain(5)
    assert [line["outcome"] for line in audit_lines("outcome")] == ["still_live"]


# --- a refusal of a stop whose job is not live ------------------------------------------------


async def test_a_refused_stop_of_a_job_that_had_ended_says_ended_not_refused(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    """Another stop (a second click, someone in the console) ended the job after the
    confirmation: MetaStudio refuses this one (400 MSS.00000003, as it does for an ended job).
    The channel hears what a read shows, not "refused, nothing was stopped"."""
    bot = await start_bot()
    value, _ = await bot.confirmation(STOP)
    bot.metastudio.jobs[JOB].end()
    await bot.click("stoplive.confirm", value)
    [post] = await bot.slack.wait_for(lambda: bot.slack.calls("chat.postMessage"))
    text = post.args["text"]
    assert text.startswith("✅ Ended:") and "stop asked by" in text
    assert "MetaStudio refused this stop (`MSS.00000003`), and the job had already ended" in text
    assert "Nothing was stopped" not in text and "Stopped" not in text
    assert [s.method for s in bot.metastudio.seen if JOB in s.path][-2:] == ["POST", "GET"]
    assert await bot.stoplive.background.drain(5)
    [line] = audit_lines("outcome")
    assert line["outcome"] == "ended" and "stop refused; HTTP 400" in str(line["detail"])


async def test_a_second_click_after_redis_forgot_the_first_is_never_refused_nothing_stopped(
    start_bot: BotFactory, own_redis_server: RedisServer, audit_lines: AuditLines
) -> None:
    """Redis is flushed after the first click's stop: its claims and journal entry are gone,
    so the same button clicked again sends a second stop, which MetaStudio refuses (the job
    ended). The channel must not read "refused, nothing was stopped" of a stream that is down."""
    bot = await start_bot(stoplive_redis_url=own_redis_server.url)
    value, _ = await bot.confirmation(STOP)
    await bot.click("stoplive.confirm", value)
    await bot.slack.wait_for(bot.final_channel_message)
    assert await bot.stoplive.background.drain(5)
    own_redis_server.flush()
    await bot.click("stoplive.confirm", value)
    second = await bot.slack.wait_for(lambda: bot.slack.calls("chat.postMessage")[1:])
    text = second[0].args["text"]
    assert text.startswith("✅ Ended:") and "MetaStudio refused this stop" in text
    assert "Nothing was stopped" not in text
    assert len(bot.metastudio.calls("POST", "/stop")) == 2
    assert await bot.stoplive.background.drain(5)
    assert [line["outcome"] for line in audit_lines("outcome")] == ["stopped", "ended"]


async def test_a_refused_stop_of_a_job_that_cannot_be_read_is_unknown_not_refused(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start_bot()
    value, _ = await bot.confirmation(STOP)
    bot.metastudio.inject(JOB, Fault("status", status=400, body=INVALID))
    bot.metastudio.inject(JOB, Fault("status", on="get", status=500, times=100))
    await bot.click("stoplive.confirm", value)
    [post] = await bot.slack.wait_for(lambda: bot.slack.calls("chat.postMessage"))
    text = post.args["text"]
    assert text.startswith("❓ Outcome unknown:")
    assert "MetaStudio refused this stop (`MSS.00000003`), and the job could not be read" in text
    assert "whether it is still live is unknown" in text and "Nothing was stopped" not in text
    assert await bot.stoplive.background.drain(5)
    [line] = audit_lines("outcome")
    assert line["outcome"] == "unknown" and "stop refused" in str(line["detail"])


# --- a state stoplive does not know -------------------------------------------------------------


async def test_an_unknown_state_after_the_stop_is_never_announced_stopped(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    bot = await start_bot(stoplive_verify_seconds=0.5)
    bot.metastudio.inject(JOB, Fault("ends_after", seconds=60, body="STOPPING"))
    value, _ = await bot.confirmation(STOP)
    await bot.click("stoplive.confirm", value)
    final = await bot.slack.wait_for(bot.final_channel_message)
    assert final["text"].startswith("❓ Outcome unknown:")
    assert "MetaStudio reports `STOPPING`, which stoplive does not know" in final["text"]
    assert "✅" not in final["text"]
    assert "stoplive.stop_again" in buttons(final)  # it may still be live
    assert len(bot.metastudio.calls("GET", JOB)) >= 3  # watched, not concluded on one read
    assert await bot.stoplive.background.drain(5)
    [line] = audit_lines("outcome")
    assert line["outcome"] == "unknown_state" and "job STOPPING" in str(line["detail"])


async def test_an_unknown_state_is_watched_until_the_job_ends(start_bot: BotFactory) -> None:
    bot = await start_bot(stoplive_verify_seconds=0.5, stoplive_watch_seconds=10)
    bot.metastudio.inject(JOB, Fault("ends_after", seconds=1.5, body="STOPPING"))
    value, _ = await bot.confirmation(STOP)
    await bot.click("stoplive.confirm", value)
    final = await bot.slack.wait_for(
        lambda: (m := bot.final_channel_message()) and m["text"].startswith("✅ Stopped") and m
    )
    early = [c.args for c in bot.slack.calls("chat.postMessage") if "thread_ts" in c.args]
    assert early[0]["text"].startswith("❓ Outcome unknown after ")
    assert "in a state I don't know (`STOPPING`)" in early[0]["text"]
    assert final["ts"] == early[0]["thread_ts"]


async def test_a_confirmation_for_a_job_in_an_unknown_state_offers_stop_and_names_it(
    start_bot: BotFactory,
) -> None:
    bot = await start_bot()
    bot.metastudio.jobs[JOB].state = "STOPPING"
    _, hook = await bot.command(STOP)
    message = await bot.first_post(hook)
    assert "stoplive.confirm" in buttons(message)
    shown = json.dumps(message["blocks"], ensure_ascii=False)
    assert "MetaStudio reports `STOPPING`, which stoplive does not know" in shown
    assert "live for" not in shown  # it may be over: only a live job is "live for" a while
    assert "Already ended" not in json.dumps(message, ensure_ascii=False)


@pytest.mark.parametrize("state", ["SUCCESS", "CANCELED", "FAILED"])
async def test_every_ended_state_is_already_ended(start_bot: BotFactory, state: str) -> None:
    bot = await start_bot()
    bot.metastudio.jobs[JOB].state = state
    _, hook = await bot.command(STOP)
    message = await bot.first_post(hook)
    assert message["text"].startswith("✅ Already ended") and buttons(message) == {}


async def test_a_blocked_job_says_why(start_bot: BotFactory) -> None:
    bot = await start_bot()
    job = bot.metastudio.jobs[JOB]
    job.state = "BLOCKED"
    job.more = {
        "block_reason": "special exit: compliance",
        "error_info": {"error_code": "MSS.10000001", "error_msg": "blocked by operations"},
    }
    _, hook = await bot.command(STOP)
    message = await bot.first_post(hook)
    shown = json.dumps(message, ensure_ascii=False)
    assert message["text"].startswith("✅ Already ended")
    assert "MetaStudio says: `special exit: compliance · MSS.10000001: blocked by" in shown


# --- a replica and its own stop -----------------------------------------------------------------


class StallingStore(MemoryStore):
    """A store that refuses journal writes (``update``) for a while, as a Redis failover does,
    and whose leases last ``lease_scale`` of what is asked: 2 s of refusal then stand for the
    20 s of a real stall, and a lapsed lease need not be waited for."""

    def __init__(self, lease_scale: float) -> None:
        super().__init__()
        self.lease_scale = lease_scale
        self.refuse_until = 0.0  # time.monotonic()

    async def begin(
        self, entry: JournalEntry, owner: str, lease: float, claims: Sequence[Claim] = ()
    ) -> Taken | None:
        return await super().begin(entry, owner, lease * self.lease_scale, claims)

    async def update(self, stop_id: str, owner: str, lease: float, **changes: str) -> bool:
        if time.monotonic() < self.refuse_until:
            raise StoreUnavailable("connection refused (test)")
        return await super().update(stop_id, owner, lease * self.lease_scale, **changes)


async def test_a_replica_never_takes_over_its_own_running_stop(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    store = StallingStore(lease_scale=0.1)  # a 1.5 s lease
    bot = await start_bot(store=store, stoplive_verify_seconds=0.5, stoplive_watch_seconds=10)
    bot.metastudio.inject(JOB, Fault("ends_after", seconds=3.0))  # accepted; live until 3 s
    value, _ = await bot.confirmation(STOP)
    store.refuse_until = time.monotonic() + 2.0  # the answer and the renewals are not written
    await bot.click("stoplive.confirm", value)
    await bot.slack.wait_for(lambda: bot.metastudio.calls("POST", "/stop"))
    await asyncio.sleep(2.1)  # the lease has lapsed; the store is back
    [entry] = await store.recent(0)
    assert entry.step == "sent" and entry.lease_until < time.time()
    assert await bot.stoplive.workflow.take_over_orphans() == 0  # its own stop: left alone
    final = await bot.slack.wait_for(
        lambda: (m := bot.final_channel_message()) and "Still checking" not in m["text"] and m
    )
    assert final["text"].startswith("✅ Stopped:")
    assert await bot.stoplive.background.drain(5)
    calls = bot.slack.calls("chat.postMessage") + bot.slack.calls("chat.update")
    texts = " ".join(c.args["text"] for c in calls)
    assert "did not answer" not in texts  # it did answer
    [line] = audit_lines("outcome")
    assert line["outcome"] == "stopped" and not line.get("recovered_by")
    [entry] = await store.recent(0)
    assert entry.finished_at and "after a restart" not in entry_text(entry, "")


async def test_a_take_over_watches_until_the_original_watch_would_have_ended(
    start_bot: BotFactory, audit_lines: AuditLines
) -> None:
    store = MemoryStore()
    bot = await start_bot(store=store, stoplive_verify_seconds=0.5, stoplive_watch_seconds=10)
    # the original clicked a second ago; its journal never learnt what the stop's answer was
    entry = replace(orphan(step="sent"), created_at=time.time() - 1, request_id="")
    await store.begin(entry, owner="replica-stalled", lease=-1)
    job = bot.metastudio.jobs[JOB]
    asyncio.get_running_loop().call_later(2.0, job.end)  # the original's stop lands late
    assert await bot.stoplive.workflow.take_over_orphans() == 1
    final = bot.final_channel_message()
    assert final is not None and final["text"].startswith("✅ Stopped:")
    assert "did not answer" not in final["text"]
    assert "What MetaStudio answered the stop is unknown" in final["text"]
    assert bot.metastudio.calls("POST", "/stop") == []  # a take-over never sends a stop
    early = [c.args for c in bot.slack.calls("chat.postMessage") if "thread_ts" in c.args]
    assert early[0]["text"].startswith("🔴 Still live after ")  # loud while it watched
    [line] = audit_lines("outcome")
    assert line["outcome"] == "stopped" and line["recovered_by"] == bot.stoplive.workflow.replica
