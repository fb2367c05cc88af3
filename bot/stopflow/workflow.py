"""The stop workflow's face: what the Slack listeners call, and nothing else.

It knows nothing of Bolt: the Slack glue hands it plain requests and an :class:`Outlet` to
speak through. Each step is one of the pieces beside it: :mod:`~bot.stopflow.gate` decides who
may do what, :mod:`~bot.stopflow.desk` answers ``/stoplive``, and
:mod:`~bot.stopflow.stopping` runs a confirmed stop to its outcome. The state store comes in
from outside (``bot/app.py``), so replicas share claims and the journal.

Rules that hold whatever arrives:
- nobody off the allowlist (or outside the allowed channels, or rooms) reaches MetaStudio;
- only the requester can confirm, in the channel they asked in, before the ticket expires, and
  a ticket stops at most once; one stop is in flight per job;
- no stop is sent unless the store took the claims and the journal entry;
- every confirmed stop ends in exactly one audit line and one channel message that say what is
  true, even if this process dies (another replica, or the next start, takes it over).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time

from bot.metastudio import MetaStudioClient
from bot.stopflow.audit import AuditLog
from bot.stopflow.batch import BatchRunner
from bot.stopflow.checking import JobChecks
from bot.stopflow.command import StopAll
from bot.stopflow.desk import Asker, RequestDesk, WorkspaceUrl
from bot.stopflow.finding import LiveFinder
from bot.stopflow.gate import Admitted, AdmittedClick, Click, CommandRequest, Gate, Refusal
from bot.stopflow.history import History
from bot.stopflow.journal import LEASE, ticket_claim
from bot.stopflow.outlet import Outlet, OutletFactory, tell_refusal
from bot.stopflow.policy import Policy
from bot.stopflow.stop_all import StopAllDesk
from bot.stopflow.stopping import StopSupervisor
from bot.stopflow.store import StateStore, StoreUnavailable
from bot.stopflow.tickets import CANCEL, CONFIRM, PICK
from bot.stopflow.watch_state import NotifyRules
from bot.stopflow.watching import StreamWatch
from bot.stopflow.words import to_requester
from bot.stopflow.words.markup import Reply

__all__ = ["Admitted", "Click", "CommandRequest", "Outlet", "Policy", "StopWorkflow"]

log = logging.getLogger(__name__)
TAKEOVER_EVERY = 5.0
CAVEATS_EVERY = 720  # take-over sweeps between two looks at the store's set-up: about an hour
# A day-old finished stop is forgotten within this of its time (one DELETE, or one scan of
# Redis's index of a day's stops): no need to do it every sweep.
PRUNE_EVERY = 600.0


class StopWorkflow:
    def __init__(
        self,
        policy: Policy,
        metastudio: MetaStudioClient,
        store: StateStore,
        outlets: OutletFactory,
        audit: AuditLog | None = None,
        replica: str | None = None,
        notify: NotifyRules | None = None,
    ) -> None:
        self.policy = policy
        self._store = store
        self._audit = audit or AuditLog()
        self._gate = Gate(policy)
        # the last day of stops (recent, the Home tab), and the stream watch's state
        self.history = History(policy, store, notify.channel_id if notify else None)
        self._desk = RequestDesk(policy, self._gate, metastudio, self._audit, self.history)
        self.replica = replica or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        # the outcome message's buttons (Check again, Stop again)
        self.checks = JobChecks(policy, self._gate, metastudio, self._desk, self._audit)
        self._stops = StopSupervisor(policy, metastudio, store, self._audit, outlets, self.replica)
        finder = LiveFinder(metastudio)  # /stoplive all's: its list, and what is live after
        batches = BatchRunner(policy, self._stops, finder, self._audit)
        self.stop_all = StopAllDesk(
            policy, self._gate, finder, store, self._audit, batches, outlets
        )
        self._unhealthy_because: str | None = None  # what /healthz last said, if not ok
        # the poller that tells the notify channel about streams nobody asked about
        self.stream_watch = (
            StreamWatch(notify, metastudio, store, outlets, self.replica) if notify else None
        )

    # --- /stoplive ----------------------------------------------------------------------

    def answer_now(self, request: CommandRequest) -> Reply | Admitted:
        """Help, usage or a refusal, for the ack itself; or the request parsed and admitted,
        which :meth:`answer_later` answers."""
        return self._desk.answer_now(request)

    async def answer_later(
        self, request: CommandRequest, admitted: Admitted, workspace_url: WorkspaceUrl
    ) -> Reply:
        """After the ack: the confirmation, or a list of live jobs to choose from (a room's,
        a room-name search's, or every one the requester may stop). ``workspace_url`` is
        awaited only for ``recent`` (its links need the workspace's address)."""
        if isinstance(admitted.target, StopAll):  # its clicks: self.stop_all
            return await self.stop_all.offer(request, admitted.grant)
        return await self._desk.answer_later(request, admitted, workspace_url)

    # --- buttons ------------------------------------------------------------------------

    async def pick(self, click: Click, outlet: Outlet) -> None:
        """A job chosen from a room's list: show its confirmation in place of the list."""
        started = time.monotonic()
        admitted = await self._admit(PICK, click, outlet, started)
        if admitted is None:
            return
        ticket, grant = admitted.ticket, admitted.grant
        asker = Asker(ticket.requester, ticket.channel_id, ticket.response_url, grant)
        reply, outcome = await self._desk.confirmation(asker, ticket.room_id, ticket.job_id)
        await outlet.to_requester(reply)
        self._record("pick", click, outcome, started, admitted)

    async def cancel(self, click: Click, outlet: Outlet) -> None:
        started = time.monotonic()
        admitted = await self._admit(CANCEL, click, outlet, started)
        if admitted is None:
            return
        ticket = admitted.ticket
        try:
            claim = ticket_claim(ticket)  # the very claim a Stop click takes
            holder = await self._store.claim(claim.key, claim.holder, claim.ttl)
        except StoreUnavailable as exc:
            # The confirmation is replaced all the same (its buttons go), but say so in the log.
            log.error("state store unavailable on cancel: %s", exc)
            holder, outcome = None, "cancelled_unrecorded"
        else:
            outcome = "cancelled"
        if holder is not None:  # already confirmed or cancelled
            self._record("cancel", click, "ignored_already_used", started, admitted)
            return
        await outlet.to_requester(to_requester.cancelled(ticket))
        self._record("cancel", click, outcome, started, admitted)

    async def confirm(self, click: Click, outlet: Outlet) -> None:
        started = time.monotonic()
        admitted = await self._admit(CONFIRM, click, outlet, started)
        if admitted is not None:
            await self._stops.run(admitted, outlet, started)

    # --- replicas and health ------------------------------------------------------------

    async def run_takeovers(
        self, stop: asyncio.Event, every: float = TAKEOVER_EVERY, prune_every: float = PRUNE_EVERY
    ) -> None:
        """Until ``stop`` is set: every ``every`` seconds, take over the stops whose owner is
        gone (its lease expired) and finish them; every ``prune_every`` seconds (and first
        thing), forget the journal's entries past keeping. Run it beside the transport. Each
        sweep runs on its own, since a take-over watches its job as long as the original would
        have: one long watch never keeps the next orphan waiting. Once ``stop`` is set, the
        take-overs under way finish; cancelled, they are cut short, each saying what it knows.
        Now and then (every :data:`CAVEATS_EVERY` sweeps) it logs what in the store's set-up
        may lose or refuse stoplive's writes."""
        sweeps: set[asyncio.Task[int]] = set()
        count = 0
        pruned_at: float | None = None
        try:
            while not stop.is_set():
                if count % CAVEATS_EVERY == 0:
                    await self.warn_of_caveats()
                count += 1
                sweep = asyncio.create_task(self.take_over_orphans())
                sweeps.add(sweep)
                sweep.add_done_callback(sweeps.discard)
                if pruned_at is None or time.monotonic() - pruned_at >= prune_every:
                    pruned_at = time.monotonic()
                    await self._prune()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=every)
            await asyncio.gather(*sweeps)
        finally:
            for sweep in sweeps:
                sweep.cancel()
            await asyncio.gather(*sweeps, return_exceptions=True)

    async def run_stream_watch(self, stop: asyncio.Event) -> None:
        """The stream watch's loop until ``stop`` is set (nothing if STOPLIVE_NOTIFY_CHANNEL
        is unset); run it beside the transport, as :meth:`run_takeovers`."""
        if self.stream_watch is not None:
            await self.stream_watch.run(stop)

    async def _prune(self) -> None:
        """Never raises: the loop must outlive a store outage."""
        try:
            await self._store.prune()
        except StoreUnavailable as exc:
            log.warning("could not prune the stop journal: %s", exc)

    async def take_over_orphans(self) -> int:
        """One sweep of :meth:`run_takeovers`: how many stops it took over, once they are
        finished. Never raises: the loop must outlive a store outage or one take-over's bug."""
        await self._stops.release_due()
        try:
            orphans = await self._store.take_orphans(self.replica, lease=LEASE)
        except StoreUnavailable as exc:
            log.warning("could not look for orphaned stops: %s", exc)
            return 0
        results = await asyncio.gather(
            *(self._stops.take_over(entry) for entry in orphans), return_exceptions=True
        )
        for entry, result in zip(orphans, results, strict=True):
            if isinstance(result, Exception):
                log.error("take-over of stop %s failed", entry.stop_id, exc_info=result)
        return sum(1 for result in results if result is not False)

    async def health(self) -> str | None:
        """None when stoplive can stop streams safely; otherwise why not, as one fixed word
        (``/healthz`` is public: the detail, which names the store's address, is logged).
        The store's probe is a write: a store that answers but refuses writes refuses every
        stop, so it is unhealthy too."""
        try:
            await asyncio.wait_for(self._store.ping(), timeout=2.0)
        except StoreUnavailable as exc:
            return self._unhealthy(exc.reason, str(exc))
        except TimeoutError:
            return self._unhealthy(StoreUnavailable.reason, "no answer within 2 s")
        if self._unhealthy_because is not None:
            log.warning("health: the state store is back")
            self._unhealthy_because = None
        return None

    def _unhealthy(self, reason: str, detail: str) -> str:
        """Log why, once per reason (a load balancer probes every few seconds)."""
        if reason != self._unhealthy_because:
            log.warning("health: %s: %s", reason, detail)
            self._unhealthy_because = reason
        return reason

    async def warn_of_caveats(self) -> None:
        """Log what in the store's set-up may lose or refuse stoplive's writes, or this
        replica's clock being off from the store's (a run of takeovers does, now and then)."""
        try:
            caveats = await self._store.caveats()
        except StoreUnavailable as exc:
            log.warning("could not read the state store's set-up: %s", exc)
            return
        for caveat in caveats:
            log.warning("state store: %s", caveat)

    # --- plumbing -----------------------------------------------------------------------

    async def _admit(
        self, event: str, click: Click, outlet: Outlet, started: float
    ) -> AdmittedClick | None:
        """The gate's verdict on a click; a refusal is answered and recorded here. ``event``
        names the step (``pick``, ``confirm``, ``cancel``): it is also the purpose the
        click's ticket must have been sealed for."""
        checked = self._gate.click(click, event)  # the step's name is its tickets' purpose
        if not isinstance(checked, Refusal):
            return checked
        await tell_refusal(outlet, checked, click.user_id)
        ticket = checked.ticket
        self._audit.record(
            event,
            slack_user=click.user_id,
            channel=click.channel_id,
            outcome=checked.outcome,
            room=ticket.room_id if ticket else None,
            job=ticket.job_id if ticket else None,
            started=started,
            detail=checked.detail or None,
        )
        return None

    def _record(
        self, event: str, click: Click, outcome: str, started: float, admitted: AdmittedClick
    ) -> None:
        ticket = admitted.ticket
        self._audit.record(
            event,
            slack_user=click.user_id,
            channel=click.channel_id,
            outcome=outcome,
            app_user=admitted.grant.app_user_id,
            room=ticket.room_id,
            job=ticket.job_id,
            started=started,
        )
