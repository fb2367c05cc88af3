"""A confirmation, carried in the button's ``value``.

Slack sends back the clicked button's value but not the ephemeral message around it, so the
value holds everything the click needs: who asked, for what, where, and until when. The
:class:`Ledger` makes sure a confirmation stops at most once, whatever double clicks or
redeliveries arrive.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass

from bot.metastudio.ids import InvalidId, check_resource_id


class BadTicket(ValueError):
    """A button value we did not write (or an old format)."""


@dataclass(frozen=True)
class Ticket:
    id: str
    room_id: str
    job_id: str
    requester: str
    channel_id: str
    expires_at: float  # epoch seconds
    response_url: str  # the command's: the fallback way into the channel

    @classmethod
    def issue(
        cls,
        *,
        room_id: str,
        job_id: str,
        requester: str,
        channel_id: str,
        ttl: float,
        response_url: str,
        now: float | None = None,
    ) -> Ticket:
        return cls(
            id=secrets.token_urlsafe(9),
            room_id=room_id,
            job_id=job_id,
            requester=requester,
            channel_id=channel_id,
            expires_at=round((now or time.time()) + ttl, 3),
            response_url=response_url,
        )

    def expired(self, now: float | None = None) -> bool:
        return (now or time.time()) >= self.expires_at

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def decode(cls, value: str) -> Ticket:
        try:
            data = json.loads(value)
            ticket = cls(**data)
            check_resource_id("room ID", ticket.room_id)
            check_resource_id("job ID", ticket.job_id)
            float(ticket.expires_at)
        except (ValueError, TypeError, InvalidId) as exc:
            raise BadTicket(str(exc)) from None
        return ticket


class Ledger:
    """Which confirmations have been used. Entries live until their ticket expires; after
    that the ticket is refused as expired anyway, so forgetting it is safe."""

    def __init__(self) -> None:
        self._used: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._used)

    def claim(self, ticket: Ticket, now: float | None = None) -> bool:
        """True exactly once per ticket."""
        now = now or time.time()
        for key in [k for k, exp in self._used.items() if exp <= now]:
            del self._used[key]
        if ticket.id in self._used:
            return False
        self._used[ticket.id] = ticket.expires_at
        return True
