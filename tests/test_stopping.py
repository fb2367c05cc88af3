"""The stop supervisor on its own: whatever its MetaStudio client does (a bug, a hang), the
stop ends in one audit line, one channel outcome and a closed journal entry.

The client here is a test double of an injected dependency (the supervisor is handed it), so
the supervisor's own code runs unchanged; the end-to-end files cover the real client."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.metastudio.models import SmartLiveJob, StopAccepted
from bot.stopflow.allowlist import Allowlist, Grant
from bot.stopflow.audit import AuditLog
from bot.stopflow.gate import AdmittedClick
from bot.stopflow.markup import Reply
from bot.stopflow.policy import Policy
from bot.stopflow.stopping import StopSupervisor
from bot.stopflow.store import MemoryStore
from bot.stopflow.tickets import Ticket, TicketKey

KEY = TicketKey.from_signing_secret("stopping-test-secret")


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


async def run(
    metastudio: ScriptedMetaStudio, caplog: pytest.LogCaptureFixture, deadline: float = 5.0
) -> tuple[RecordingOutlet, MemoryStore, list[dict[str, Any]]]:
    caplog.set_level(logging.INFO, logger="stoplive.audit")
    policy = Policy(
        Allowlist.from_data({"U0ALICE01": "ops"}, source="t"), "x", 300, KEY, verify_for=0.2
    )
    store, outlet = MemoryStore(), RecordingOutlet()
    supervisor = StopSupervisor(
        policy,
        metastudio,
        store,
        AuditLog(),
        lambda *_: outlet,
        "replica-1",
        deadline=deadline,  # type: ignore[arg-type]
    )
    ticket = Ticket.issue(
        key=KEY,
        room_id="room-1",
        job_id="job-1",
        requester="U0ALICE01",
        channel_id="C1",
        ttl=300,
        response_url="https://hooks/x",
    )
    await supervisor.run(AdmittedClick(ticket, Grant("ops")), outlet, 0.0)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "stoplive.audit"]
    return outlet, store, [line for line in lines if line["event"] == "outcome"]


async def test_a_bug_in_the_stop_call_ends_as_outcome_unknown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outlet, store, outcomes = await run(ScriptedMetaStudio(bug, live_job), caplog)
    assert [line["outcome"] for line in outcomes] == ["unknown"]
    assert "unexpected RuntimeError" in outcomes[0]["detail"]
    finals = [reply for where, reply in outlet.said if where == "final"]
    assert len(finals) == 1 and finals[0].text.startswith("❓ Outcome unknown")
    [entry] = await store.recent(0)
    assert entry.finished_at and entry.outcome == "unknown"


async def test_a_hanging_client_is_cut_at_the_deadline(caplog: pytest.LogCaptureFixture) -> None:
    outlet, store, outcomes = await run(ScriptedMetaStudio(hang, live_job), caplog, deadline=0.2)
    assert [line["outcome"] for line in outcomes] == ["unknown"]
    assert "no outcome within" in outcomes[0]["detail"]
    assert [where for where, _ in outlet.said].count("final") == 1
    [entry] = await store.recent(0)
    assert entry.finished_at


async def test_a_job_that_stays_live_is_still_live_not_stopped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metastudio = ScriptedMetaStudio(accepted, live_job)
    outlet, _, outcomes = await run(metastudio, caplog)
    assert [line["outcome"] for line in outcomes] == ["still_live"] and metastudio.stops == 1
    said = [where for where, _ in outlet.said]
    assert said[-3:] == ["final", "thread", "requester"]  # the bad verdict is also a reply
    assert outlet.said[-1][1].text.endswith("Done: result posted in <#C1>")


async def test_the_job_claim_is_released_whatever_the_end(caplog: pytest.LogCaptureFixture) -> None:
    _, store, _ = await run(ScriptedMetaStudio(bug, live_job), caplog)
    assert await store.claim("job:room-1:job-1", "U0BOB0002", 10) is None
