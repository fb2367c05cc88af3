"""The rules a deployment sets for stopping streams: who, where, for how long, and the key that
seals confirmation buttons. Read once from the settings; nothing in it changes at run time."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.stopflow.allowlist import GrantSource
from bot.stopflow.buttons import OutcomeButtons
from bot.stopflow.tickets import Ticket, TicketKey


@dataclass(frozen=True)
class Policy:
    allowlist: GrantSource  # a fixed Allowlist or a LiveAllowlist
    contact: str
    confirm_ttl: int
    ticket_key: TicketKey
    allowed_channels: frozenset[str] = frozenset()
    audit_channel: str | None = None
    lookup_timeout: float = 3.0  # a read before confirming must never hold the requester up
    verify_for: float = 30.0  # how long to watch a stopped job before saying it still runs
    # how long, in all, a job still live after the stop keeps being watched (the channel is
    # told it is still being checked meanwhile); no longer than verify_for if smaller
    watch_for: float = 0.0
    # /stoplive all waits for a second person with the stop-all grant to approve
    two_person_stop_all: bool = False
    # what the outcome message's buttons carry (no console link unless configured)
    buttons: OutcomeButtons = field(default_factory=OutcomeButtons)

    def issue(
        self,
        purpose: str,
        *,
        room_id: str,
        job_id: str,
        requester: str,
        channel_id: str,
        response_url: str,
        room_name: str | None = None,
    ) -> Ticket:
        """A ticket sealed with this deployment's key, for ``purpose``, valid ``confirm_ttl``
        seconds: every button stoplive issues is one of these."""
        return Ticket.issue(
            key=self.ticket_key,
            room_id=room_id,
            job_id=job_id,
            requester=requester,
            channel_id=channel_id,
            ttl=self.confirm_ttl,
            response_url=response_url,
            room_name=room_name,
            purpose=purpose,
        )
