"""Answering ``/stoplive`` and a pick from a list: find the live jobs, offer a confirmation.

Nothing here stops anything. The access check is :class:`~bot.stopflow.gate.Gate`'s; this
module adds what needs the network (the rooms and jobs as MetaStudio sees them) and issues the
sealed tickets the buttons carry (each sealed for its one button), so every Stop… and Stop
button passes the same gate. A Stop… button is offered only for a job just seen live; a Stop
button only for a job seen live in the asked room, or one whose read failed without MetaStudio
saying anything about it (an incident is no time to be blocked by a read, but a job MetaStudio
says it does not know, or places in another room, gets no button). Someone granted only some
rooms gets no button after a failed read: only a read can show the job is in their room.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from bot.metastudio import (
    CALL_FAILURES,
    AboutAnotherRoom,
    MetaStudioClient,
    MetaStudioError,
    describe,
)
from bot.metastudio.ids import InvalidId, check_resource_id
from bot.metastudio.models import LIVE_STATES, RoomJobs, SmartLiveJob, SmartLiveRoom
from bot.stopflow.allowlist import Grant
from bot.stopflow.audit import AuditLog
from bot.stopflow.command import RoomSearch, ShowRecent, StopTarget
from bot.stopflow.finding import Found, LiveFinder
from bot.stopflow.gate import Admitted, CommandRequest, Gate
from bot.stopflow.history import History
from bot.stopflow.policy import Policy
from bot.stopflow.tickets import CANCEL, CONFIRM, PICK, Ticket
from bot.stopflow.words import live_lists, refusals, to_requester
from bot.stopflow.words.markup import Reply

T = TypeVar("T")
WorkspaceUrl = Callable[[], Awaitable[str]]
"""The workspace's address (``https://acme.slack.com/``, "" while unknown), asked only when a
reply links to channel messages."""
# A list reads the tenant-wide job list (one call per 100 live jobs), or, where MetaStudio
# refuses it, every live room (one page of rooms per 100, then one call per room, 6 at a
# time): 50 rooms at 100 ms take 1.1 s. What is read by this deadline is shown, and what
# is missing said.
FIND_TIMEOUT = 10.0


@dataclass(frozen=True)
class Asker:
    """Who asked, where, and how to reach them: what every ticket is issued for."""

    user_id: str
    channel_id: str
    response_url: str
    grant: Grant


class RequestDesk:
    def __init__(
        self,
        policy: Policy,
        gate: Gate,
        metastudio: MetaStudioClient,
        audit: AuditLog,
        history: History,
    ) -> None:
        self._policy = policy
        self._gate = gate
        self._metastudio = metastudio
        self._finder = LiveFinder(metastudio)
        self._audit = audit
        self._history = history

    def answer_now(self, request: CommandRequest) -> Reply | Admitted:
        """What to answer in the ack itself: help, usage or a refusal (recorded). Admitted
        means the request passed every check that needs no network, and :meth:`answer_later`
        answers it from that (parsed and checked once, in the ack)."""
        checked = self._gate.command(request)
        if isinstance(checked, Admitted):
            return checked
        if checked.outcome:
            target = Gate.target_of(request)
            self._audit.record(
                "request",
                slack_user=request.user_id,
                channel=request.channel_id,
                outcome=checked.outcome,
                room=target.room_id if target else None,
                job=target.job_id if target else None,
            )
        return refusals.refusal(checked.reason)

    async def answer_later(
        self, request: CommandRequest, checked: Admitted, workspace_url: WorkspaceUrl
    ) -> Reply:
        """After the ack: the confirmation, or the live jobs to choose from (of one room, of
        the rooms whose name matches, or of every room), as MetaStudio sees them, for what
        :meth:`answer_now` admitted."""
        started = time.monotonic()
        target, grant = checked.target, checked.grant
        asker = Asker(request.user_id, request.channel_id, request.response_url, grant)
        room_id: str | None
        job_id: str | None
        if isinstance(target, ShowRecent):
            reply = await self._history.recent(grant, await workspace_url())
            room_id, job_id, detail, outcome = None, None, "recent", "recent_shown"
        elif isinstance(target, StopTarget):
            room_id, job_id, detail = target.room_id, target.job_id, None
            if job_id is None:
                reply, outcome = await self._room_choices(asker, room_id)
            else:
                reply, outcome = await self.confirmation(asker, room_id, job_id)
        else:
            query = target.query if isinstance(target, RoomSearch) else None
            reply, outcome, job = await self._find(asker, query)
            room_id, job_id = (job.room_id, job.job_id) if job else (None, None)
            detail = "list" if query is None else f"search: {query}"
        self._audit.record(
            "request",
            slack_user=request.user_id,
            channel=request.channel_id,
            outcome=outcome,
            app_user=grant.app_user_id,
            room=room_id,
            job=job_id,
            started=started,
            detail=detail,
        )
        return reply

    async def confirmation(self, asker: Asker, room_id: str, job_id: str) -> tuple[Reply, str]:
        """The confirmation with the job as MetaStudio sees it. If MetaStudio refuses the read
        (404, or the 400 ``MSS.00000003`` it gives for an unknown room or job), say what it
        said and offer no button: the job's state is unknown and a stop would be refused
        alike. If it answers about a job of another room, refuse, whoever asks: MetaStudio
        may resolve jobs by ID alone, so a stop under this room could end the other room's
        stream. If the read fails otherwise (no answer, 5xx), say so and confirm anyway,
        except to someone granted only some rooms: for them only a read showing the job in
        the room (one of theirs, by the gate) earns a button. A job in a state stoplive does
        not know is confirmed too, the state named: it may be live."""
        try:
            job = await self._bounded(
                self._metastudio.get_job(room_id, job_id, asker.grant.app_user_id)
            )
        except CALL_FAILURES as exc:
            if isinstance(exc, AboutAnotherRoom):
                return to_requester.job_in_another_room(room_id, job_id), "refused_job_other_room"
            if isinstance(exc, MetaStudioError) and 400 <= exc.status < 500 and not exc.retryable:
                outcome = "job_missing" if exc.status == 404 else "job_read_refused"
                live = await self._live_elsewhere(asker, room_id, job_id)
                choices = [(j, self._pick(asker, room_id, j.job_id, j.room_name)) for j in live]
                return to_requester.job_missing(room_id, job_id, exc, choices), outcome
            if asker.grant.rooms is not None:
                reply = to_requester.job_room_unproven(room_id, job_id, describe(exc))
                return reply, "job_room_unread"
            return self._confirm_reply(asker, room_id, job_id, None, describe(exc))
        if asker.grant.rooms is not None and not job.room_named:
            # MetaStudio may find a job by its ID alone: an answer that does not name the room
            # does not show the job in one of theirs
            unnamed = "MetaStudio's answer did not name the job's room"
            return to_requester.job_room_unproven(room_id, job_id, unnamed), "job_room_unread"
        if job.has_ended:  # a state stoplive does not know is confirmed, naming it
            # the one most likely meant: the room's live job now (the newest, if several)
            live = await self._live_elsewhere(asker, room_id, job_id)
            other = live[0] if live else None
            value = (
                self._pick(asker, room_id, other.job_id, other.room_name or job.room_name)
                if other
                else None
            )
            reply = to_requester.job_not_live(job, datetime.now(UTC), other, value)
            return reply, "job_not_live" if other is None else "job_not_live_offered"
        return self._confirm_reply(asker, room_id, job_id, job, None)

    async def _live_elsewhere(self, asker: Asker, room_id: str, job_id: str) -> list[SmartLiveJob]:
        """The room's live jobs other than ``job_id``, newest first; none if they cannot be
        read (the answer about the job stands on its own)."""
        try:
            jobs = await self._bounded(
                self._metastudio.list_jobs(room_id, asker.grant.app_user_id, LIVE_STATES)
            )
            live = live_in(room_id, jobs)
        except CALL_FAILURES:  # InvalidId too: live_in refuses a job of another room
            return []
        others = [job for job in live if job.job_id != job_id]
        return sorted(
            others, key=lambda j: j.started_at or datetime.min.replace(tzinfo=UTC), reverse=True
        )

    async def _room_choices(self, asker: Asker, room_id: str) -> tuple[Reply, str]:
        try:
            jobs = await self._bounded(
                self._metastudio.list_jobs(room_id, asker.grant.app_user_id, LIVE_STATES)
            )
        except CALL_FAILURES as exc:
            return to_requester.room_unreadable(room_id, describe(exc)), "room_unreadable"
        try:
            live = live_in(room_id, jobs)
        except InvalidId as exc:
            return to_requester.room_unreadable(room_id, describe(exc)), "room_unreadable"
        if not live:
            return to_requester.no_live_jobs(room_id, None), "no_live_job"
        if len(live) == 1:
            return self._confirm_reply(asker, room_id, live[0].job_id, live[0], None)
        choices = [
            (job, self._ticket(asker, room_id, job.job_id, PICK, job.room_name)) for job in live
        ]
        return to_requester.picker(room_id, choices, datetime.now(UTC)), "picker_shown"

    async def _find(
        self, asker: Asker, query: str | None
    ) -> tuple[Reply, str, SmartLiveJob | None]:
        """Every live job the requester may stop, in the rooms whose name matches ``query``
        (every room if None), as :class:`~bot.stopflow.finding.LiveFinder` reads them by
        :data:`FIND_TIMEOUT`. Rooms outside a restricted user's grant are dropped before their
        jobs are read. Exactly one live job (no room left unread, the list whole) goes
        straight to its confirmation; the job is returned then, for the audit line."""
        grant = asker.grant
        deadline = asyncio.get_running_loop().time() + FIND_TIMEOUT
        try:
            if query is None:
                found = await self._finder.everything(grant, deadline)
            else:
                found = await self._finder.matching(grant, query, deadline)
                if not found.rooms and found.listing is None:  # which rooms matched, to say so
                    async with asyncio.timeout_at(deadline):
                        listing = await self._metastudio.list_rooms(
                            grant.app_user_id, room_name=query
                        )
                    matched = [room for room in listing.entries if grant.covers(room.room_id)]
                    if not matched:
                        restricted = grant.rooms is not None
                        return live_lists.no_room_matches(query, restricted), "no_room_match", None
                    return live_lists.no_live_in_matches(query, matched), "no_live_job", None
        except CALL_FAILURES as exc:
            return live_lists.rooms_unlisted(query, describe(exc)), "rooms_unreadable", None
        live, unreadable = sort_found(found.rooms)
        short = shortfall(found)
        if not live and (unreadable or short):
            reply = live_lists.jobs_unreadable(query, unreadable, short)
            return reply, "rooms_unreadable", None
        if not live:
            rooms = [entry.room for entry in found.rooms]
            reply = (
                live_lists.nothing_live()
                if query is None
                else live_lists.no_live_in_matches(query, rooms)
            )
            return reply, "no_live_job", None
        if len(live) == 1 and not unreadable and short is None:
            job = live[0]
            reply, outcome = self._confirm_reply(asker, job.room_id or "", job.job_id, job, None)
            return reply, outcome, job
        choices = [
            (job, self._pick(asker, job.room_id or "", job.job_id, job.room_name)) for job in live
        ]
        reply = live_lists.live_jobs(
            choices, datetime.now(UTC), query, unreadable=unreadable, shortfall=short
        )
        return reply, "list_shown", None

    def _confirm_reply(
        self, asker: Asker, room_id: str, job_id: str, job: SmartLiveJob | None, problem: str | None
    ) -> tuple[Reply, str]:
        ticket = self._ticket(asker, room_id, job_id, CONFIRM, job.room_name if job else None)
        reply = to_requester.confirmation(
            ticket,
            asker.grant.app_user_id,
            job,
            problem,
            self._policy.confirm_ttl,
            datetime.now(UTC),
            cancel=ticket.for_purpose(CANCEL, self._policy.ticket_key),
        )
        return reply, "confirmation_shown" if problem is None else "confirmation_shown_unread"

    def _pick(self, asker: Asker, room_id: str, job_id: str, room_name: str | None) -> str:
        """The value of a "Stop…" button: a ticket only a pick accepts."""
        return self._ticket(asker, room_id, job_id, PICK, room_name).encode()

    def _ticket(
        self, asker: Asker, room_id: str, job_id: str, purpose: str, room_name: str | None = None
    ) -> Ticket:
        return self._policy.issue(
            purpose,
            room_id=room_id,
            job_id=job_id,
            requester=asker.user_id,
            channel_id=asker.channel_id,
            response_url=asker.response_url,
            room_name=room_name,
        )

    async def _bounded(self, call: Awaitable[T]) -> T:
        async with asyncio.timeout(self._policy.lookup_timeout):
            return await call


def live_in(room_id: str, jobs: Sequence[SmartLiveJob]) -> list[SmartLiveJob]:
    """The jobs of ``room_id`` that MetaStudio says are live, or :class:`InvalidId` if it
    listed a job this room does not hold or an ID that could not go into a button (and back
    into a URL): a button is offered only for a job seen live, under its own room."""
    for job in jobs:
        check_resource_id("a job ID MetaStudio listed", job.job_id)
        if job.room_id != room_id:
            raise InvalidId("MetaStudio listed a job of another room")
    return [job for job in jobs if job.is_live]


def sort_found(
    found: list[RoomJobs],
) -> tuple[list[SmartLiveJob], list[tuple[SmartLiveRoom, str]]]:
    """The live jobs, by room name (then as MetaStudio listed them), each carrying its room's
    name; and the rooms whose jobs could not be read, with why."""
    live: list[SmartLiveJob] = []
    unreadable: list[tuple[SmartLiveRoom, str]] = []
    for entry in sorted(found, key=lambda e: ((e.room.room_name or "").casefold(), e.room.room_id)):
        room = entry.room
        if entry.failure is not None:
            unreadable.append((room, describe(entry.failure)))
            continue
        try:
            jobs = live_in(room.room_id, entry.jobs)
        except InvalidId as exc:
            unreadable.append((room, describe(exc)))
            continue
        live.extend(
            job if job.room_name else job.model_copy(update={"room_name": room.room_name})
            for job in jobs
        )
    return live, unreadable


def shortfall(found: Found) -> live_lists.Shortfall | None:
    """What the list that named the rooms could not include, in words; None if it was read
    whole."""
    listing = found.listing
    if listing is None:
        return None
    return live_lists.Shortfall(
        noun=found.noun,
        read=len(listing.entries),
        total=listing.total,
        problem=describe(listing.stopped) if listing.stopped is not None else None,
    )
