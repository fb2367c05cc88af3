"""The stop supervisor on its own: whatever its MetaStudio client does (a bug, a hang), the
stop ends in one audit line, one channel outcome and a closed journal entry.

The client here is a test double of an injected dependency (the supervisor is handed it), so
the supervisor's own code runs unchanged; the end-to-end files cover the real client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.metastudio.models import SmartLiveJob, StopAccepted
from bot.stopflow.allowlist import Allowlist, Grant
from bot.stopflow.audit import AuditLog
from bot.stopflow.gate import AdmittedClick
from bot.stopflow.journal import CLOCK_MARGIN, job_claim, ticket_claim, ticket_of
from bot.stopflow.policy import Policy
from bot.stopflow.stopping import StopSupervisor
from bot.stopflow.store import Claim, JournalEntry, MemoryStore, Ownership
from bot.stopflow.tickets import Ticket
from bot.stopflow.words.markup import Reply
from tests.builders import TICKET_KEY, AuditLines, ticket

KEY = TICKET_KEY


class ScriptedMetaStudio:
    """Answers the two calls a stop makes with whatever the test scripts."""

    def __init__(
        self,
        stop: Callable[[], Awaitable[StopAccepted]],
        read: Callable[[], Awaitable[SmartLiveJob]],
    ) -> None:
        self._stop, self._read = stop, read
        self.stops = 0

    async def stop_job(self, room_id: str, job_id: str, app_user_id: str) -> StopAccepted:
        self.stops += 1
        return await self._stop()

    async def get_job(self, room_id: str, job_id: str, app_user_id: str) -> SmartLiveJob:
        return await self._read()


class RecordingOutlet:
    def __init__(self) -> None:
        self.said: list[tuple[str, Reply]] = []

    async def to_requester(self, reply: Reply) -> None:
        self.said.append(("requester", reply))

    async def to_clicker(self, reply: Reply) -> None:
        self.said.append(("clicker", reply))

    async def announce(self, reply: Reply, *, final: bool, fallback_url: str) -> str:
        self.said.append(("final" if final else "progress", reply))
        return "1700000000.000001"

    async def copy_to(self, channel_id: str, reply: Reply) -> None:
        self.said.append((channel_id, reply))

    async def reply_in_thread(self, reply: Reply) -> None:
        self.said.append(("thread", reply))

    async def permalink(self) -> str | None:
        return "https://acme.slack.com/archives/C1/p1700000000000001"


async def accepted() -> StopAccepted:
    return StopAccepted(request_id="rid-1")


async def live_job() -> SmartLiveJob:
    return SmartLiveJob(job_id="job-1", room_id="room-1", state="PROCESSING")


async def hang() -> Any:
    await asyncio.Event().wait()


async def bug() -> Any:
    raise RuntimeError("a bug in the client")


def supervisor(
    metastudio: ScriptedMetaStudio,
    store: MemoryStore,
    outlet: RecordingOutlet,
    deadline: float = 5.0,
    stop_call_allowance: float = 3.0,
) -> StopSupervisor:
    policy = Policy(
        Allowlist.from_data({"U0ALICE01": "ops"}, source="t"), "x", 300, KEY, verify_for=0.2
    )
    return StopSupervisor(
        policy,
        metastudio,  # type: ignore[arg-type]
        store,
        AuditLog(),
        lambda *_: outlet,
        "replica-1",
        deadline=deadline,
        stop_call_allowance=stop_call_allowance,
    )


def new_ticket(ttl: float = 300, now: float | None = None) -> Ticket:
    return ticket(room_id="room-1", job_id="job-1", channel_id="C1", ttl=ttl, now=now)


async def run(
    metastudio: ScriptedMetaStudio, audit_lines: AuditLines, deadline: float = 5.0
) -> tuple[RecordingOutlet, MemoryStore, list[dict[str, Any]]]:
    store, outlet = MemoryStore(), RecordingOutlet()
    stops = supervisor(metastudio, store, outlet, deadline)
    await stops.run(AdmittedClick(new_ticket(), Grant("ops")), outlet, 0.0)
    return outlet, store, audit_lines("outcome")


async def test_a_bug_in_the_stop_call_ends_as_outcome_unknown(
    audit_lines: AuditLines,
) -> None:
    outlet, store, outcomes = await run(ScriptedMetaStudio(bug, live_job), audit_lines)
    assert [line["outcome"] for line in outcomes] == ["unknown"]
    assert "unexpected RuntimeError" in outcomes[0]["detail"]
    finals = [reply for where, reply in outlet.said if where == "final"]
    assert len(finals) == 1 and finals[0].text.startswith("❓ Outcome unknown")
    [entry] = await store.recent(0)
    assert entry.finished_at and entry.outcome == "unknown"


async def test_a_hanging_client_is_cut_at_the_deadline(audit_lines: AuditLines) -> None:
    outlet, store, outcomes = await run(
        ScriptedMetaStudio(hang, live_job), audit_lines, deadline=0.2
    )
    assert [line["outcome"] for line in outcomes] == ["unknown"]
    assert "no outcome within" in outcomes[0]["detail"]
    assert [where for where, _ in outlet.said].count("final") == 1
    [entry] = await store.recent(0)
    assert entry.finished_at


async def test_a_job_that_stays_live_is_still_live_not_stopped(
    audit_lines: AuditLines,
) -> None:
    metastudio = ScriptedMetaStudio(accepted, live_job)
    outlet, _, outcomes = await run(metastudio, audit_lines)
    assert [line["outcome"] for line in outcomes] == ["still_live"] and metastudio.stops == 1
    said = [where for where, _ in outlet.said]
    assert said[-3:] == ["final", "thread", "requester"]  # the bad verdict is also a reply
    assert outlet.said[-1][1].text.endswith("Done: result posted in <#C1>")


async def test_the_job_claim_is_released_whatever_the_end(audit_lines: AuditLines) -> None:
    _, store, _ = await run(ScriptedMetaStudio(bug, live_job), audit_lines)
    assert await store.claim("job:room-1:job-1", "U0BOB0002", 10) is None


async def test_a_finishing_stop_never_releases_a_later_stop_of_the_same_person() -> None:
    """Stop 1's job claim expires while its stop call hangs; Alice confirms again (stop 2),
    which takes the claim. When stop 1 ends, stop 2 must still hold the job: a claim keyed on
    the person alone would be released by stop 1 and let a third click send another stop."""
    store, outlet = MemoryStore(), RecordingOutlet()
    answers = [asyncio.Event(), asyncio.Event()]
    stopping = asyncio.Event()

    async def held_stop() -> StopAccepted:
        answer = answers[metastudio.stops - 1]
        stopping.set()
        await answer.wait()
        return StopAccepted(request_id="rid")

    async def ended_job() -> SmartLiveJob:
        return SmartLiveJob(job_id="job-1", room_id="room-1", state="SUCCEED")

    metastudio = ScriptedMetaStudio(held_stop, ended_job)
    stops = supervisor(metastudio, store, outlet)
    first, second = new_ticket(), new_ticket()
    key, first_holder = job_claim(first)
    one = asyncio.create_task(stops.run(AdmittedClick(first, Grant("ops")), outlet, 0.0))
    await asyncio.wait_for(stopping.wait(), 5)
    assert await store.claim(key, "probe", 1) == first_holder
    await store.release(key, first_holder)  # as if its claim had expired
    stopping.clear()
    two = asyncio.create_task(stops.run(AdmittedClick(second, Grant("ops")), outlet, 0.0))
    await asyncio.wait_for(stopping.wait(), 5)
    answers[0].set()
    await asyncio.wait_for(one, 5)
    assert await store.claim(key, "probe", 1) == job_claim(second)[1]  # still stop 2's
    answers[1].set()
    await asyncio.wait_for(two, 5)
    assert metastudio.stops == 2
    assert await store.claim(key, "probe", 1) is None  # stop 2 gave it back


class WritesNoted(MemoryStore):
    """A memory store that notes the claim and journal writes that end a stop."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    async def release(self, key: str, holder: str) -> None:
        self.writes.append("release")
        await super().release(key, holder)

    async def finish(self, *args: Any, **kwargs: Any) -> Ownership:
        self.writes.append("finish")
        return await super().finish(*args, **kwargs)


async def test_a_stop_ends_with_one_write_that_finishes_it_and_frees_its_job() -> None:
    """Finish and release in one transaction: one round trip to the store per stop fewer."""
    store, outlet = WritesNoted(), RecordingOutlet()

    async def ended_job() -> SmartLiveJob:
        return SmartLiveJob(job_id="job-1", room_id="room-1", state="SUCCEED")

    stops = supervisor(ScriptedMetaStudio(accepted, ended_job), store, outlet)
    ticket = new_ticket()
    await stops.run(AdmittedClick(ticket, Grant("ops")), outlet, 0.0)
    assert store.writes == ["finish"]
    assert await store.claim(job_claim(ticket)[0], "probe", 1) is None
    [entry] = await store.recent(0)
    assert (entry.step, entry.outcome) == ("finished", "stopped")


async def test_the_job_claim_is_refused_to_a_second_stop_and_names_the_requester() -> None:
    store, outlet = MemoryStore(), RecordingOutlet()
    key, _ = job_claim(new_ticket())
    await store.claim(key, "U0BOB0002/some-stop", 60)
    stops = supervisor(ScriptedMetaStudio(accepted, live_job), store, outlet)
    await stops.run(AdmittedClick(new_ticket(), Grant("ops")), outlet, 0.0)
    [(where, reply)] = outlet.said
    assert where == "clicker" and "<@U0BOB0002>" in reply.text and "some-stop" not in reply.text


async def test_a_stop_call_with_no_answer_is_cut_at_its_allowance_then_the_job_is_read(
    audit_lines: AuditLines,
) -> None:
    """The stop call is bounded on its own (a take-over counts on it being over by then): a
    call that never answers is treated as an answer lost, and the job tells the truth."""
    store, outlet = MemoryStore(), RecordingOutlet()
    metastudio = ScriptedMetaStudio(hang, live_job)
    stops = supervisor(metastudio, store, outlet, deadline=5.0, stop_call_allowance=0.2)
    started = asyncio.get_running_loop().time()
    await stops.run(AdmittedClick(new_ticket(), Grant("ops")), outlet, 0.0)
    assert asyncio.get_running_loop().time() - started < 4.0  # not the 5 s deadline
    [outcome] = audit_lines("outcome")
    assert outcome["outcome"] == "still_live" and metastudio.stops == 1


def test_a_tickets_claim_outlives_it_by_the_clock_margin_whatever_this_clock_says() -> None:
    """Clicked 1.2 s before it expires, the claim used to last 1.2 s (1 s at least): a replica
    whose clock is behind could then take the same ticket again. It lasts the ticket's whole
    life plus the margin, read without this replica's clock."""
    ticket = new_ticket(ttl=20, now=time.time() - 18.8)
    assert ticket_claim(ticket).ttl == 20 + CLOCK_MARGIN >= 20 + 300


def taken_entry(step: str, clicked_by_this_clock: float) -> JournalEntry:
    """A stop whose owner stopped renewing; its click is ``clicked_by_this_clock`` seconds
    ago by this replica's clock (any value: the owner's clock may be anything)."""
    return JournalEntry(
        stop_id="taken-1",
        room_id="room-1",
        job_id="job-1",
        requester="U0ALICE01",
        channel_id="C1",
        app_user_id="ops",
        response_url="",
        created_at=time.time() - clicked_by_this_clock,
        step=step,
    )


async def take_over(entry: JournalEntry, allowance: float) -> tuple[StopSupervisor, MemoryStore]:
    async def ended_job() -> SmartLiveJob:
        return SmartLiveJob(job_id="job-1", room_id="room-1", state="SUCCEED")

    store, outlet = MemoryStore(), RecordingOutlet()
    key, holder = job_claim(ticket_of(entry))
    await store.begin(entry, "replica-gone", lease=-1, claims=[Claim(key, holder, 300)])
    [orphan] = await store.take_orphans("replica-1", lease=15)
    stops = supervisor(ScriptedMetaStudio(accepted, ended_job), store, outlet, 5.0, allowance)
    assert await stops.take_over(orphan)
    return stops, store


async def test_a_take_over_keeps_the_job_claimed_for_the_allowance_whatever_the_clocks_say() -> (
    None
):
    """The stop call of a stop last journalled "sent" may be on its way: the job stays claimed
    for the call's allowance after the take-over, even when by this replica's clock the
    click was long ago (its clock ahead of the owner's), then the next sweep gives it back."""
    stops, store = await take_over(taken_entry("sent", 3600), allowance=1.0)
    key, holder = job_claim(ticket_of(taken_entry("sent", 0)))
    assert await store.claim(key, "probe", 1) == holder  # no second stop yet
    await asyncio.sleep(1.1)
    await stops.release_due()
    assert await store.claim(key, "probe", 1) is None


async def test_a_take_over_of_a_stop_whose_call_came_back_gives_the_job_back_at_once() -> None:
    """The journal says the call was answered: it is over, whatever this replica's clock
    says of the click (here, behind the owner's: the click is "in the future")."""
    _, store = await take_over(taken_entry("answered", -3600), allowance=30.0)
    key, _ = job_claim(ticket_of(taken_entry("answered", 0)))
    assert await store.claim(key, "probe", 1) is None
