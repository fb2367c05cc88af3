"""A confirmation, carried in the button's ``value``, sealed so nobody can forge or edit it.

Slack sends back the clicked button's value but not the ephemeral message around it, so the
value holds everything the click needs: who asked, for what, where, until when, and which
button it belongs to (its *purpose*: a "Stop…" pick, the Stop or the Cancel of one
confirmation). The purpose is sealed with the rest and the click's action must name the same
one: a pick's value sent with the Stop button's ``action_id`` would otherwise stop the job
without the confirmation step. Anyone
who can send a validly signed interaction (any member's client) can put any string there, so
the value carries an HMAC-SHA256 over every field, checked in constant time before anything in
it is read. The key is derived from the Slack signing secret (HKDF with a fixed label): every
replica derives the same key without a new setting, and the key is not the secret itself.

Decoding never raises: any string becomes a :class:`Ticket` or a :class:`NotOurs` saying why.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import time
from dataclasses import dataclass, replace

from bot.metastudio.ids import InvalidId, check_resource_id

VERSION = "t2"  # t1 values had no purpose: refused, like any stale button
MAX_VALUE = 2000  # Slack's limit for a button value
_LABEL = b"stoplive ticket mac v1"
_MAC_CHARS = 43  # 32 bytes, base64url without padding
# id, room, job, requester, channel, issued_at, expires_at, response_url, purpose, room_name
_FIELDS = 10
ROOM_NAME_LIMIT = 80  # characters kept of the room's name (a message shows no more)

PICK = "pick"  # a "Stop…" button: shows the job's confirmation
CONFIRM = "confirm"  # a confirmation's Stop button: stops the job
CANCEL = "cancel"  # a confirmation's Cancel button: disarms it (same id as its Stop)
# /stoplive all: the red button over the listed set, and (two-person) the channel's Approve and
# the requester's Cancel of that request. Their tickets name no job: room and job are ALL, and
# the set is a store note under the ticket's id (stop_all.py).
STOP_ALL = "stop_all"
APPROVE_ALL = "approve_all"
WITHDRAW_ALL = "withdraw_all"
ALL_PURPOSES = frozenset({STOP_ALL, APPROVE_ALL, WITHDRAW_ALL})
ALL = "all"  # the room and job "ID" of a /stoplive all ticket (no real ID is that short word)
PURPOSES = frozenset({PICK, CONFIRM, CANCEL}) | ALL_PURPOSES


class TicketKey:
    """The MAC key of confirmation buttons. ``repr`` never shows it."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a ticket key needs at least 32 bytes")
        self._key = key

    def __repr__(self) -> str:
        return "TicketKey(…)"

    @classmethod
    def from_signing_secret(cls, signing_secret: str) -> TicketKey:
        """HKDF-SHA256 (RFC 5869) of the signing secret with a fixed label: the same key on
        every replica, and one that cannot be turned back into the signing secret."""
        if not signing_secret:
            raise ValueError("the Slack signing secret is empty")
        prk = hmac.new(b"\x00" * 32, signing_secret.encode(), hashlib.sha256).digest()
        return cls(hmac.new(prk, _LABEL + b"\x01", hashlib.sha256).digest())

    def mac(self, payload: str) -> str:
        digest = hmac.new(self._key, f"{VERSION}.{payload}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class NotOurs:
    """A button value that is not a valid ticket of ours: forged, edited, old or broken."""

    reason: str


@dataclass(frozen=True)
class Ticket:
    id: str
    room_id: str
    job_id: str
    requester: str  # Slack user ID
    channel_id: str
    issued_at: float  # epoch seconds
    expires_at: float  # epoch seconds, at most the confirmation TTL after issued_at
    response_url: str  # the command's: the fallback way into the channel
    purpose: str = CONFIRM  # the one button this value is for (PICK, CONFIRM or CANCEL)
    sealed: str = ""  # the encoded, MAC'd value; set by issue and decode
    # MetaStudio's name of the room when the confirmation was shown, so that the notes sent
    # before the job is read again say "Stopping Product launch", not an ID ("" if unknown)
    room_name: str = ""

    @classmethod
    def issue(
        cls,
        *,
        key: TicketKey,
        room_id: str,
        job_id: str,
        requester: str,
        channel_id: str,
        ttl: float,
        response_url: str,
        room_name: str | None = None,
        purpose: str = CONFIRM,
        now: float | None = None,
    ) -> Ticket:
        issued = round(time.time() if now is None else now, 3)
        expires = round(issued + ttl, 3)
        ident = secrets.token_urlsafe(9)
        unsealed = cls(
            ident,
            room_id,
            job_id,
            requester,
            channel_id,
            issued,
            expires,
            response_url,
            room_name=(room_name or "")[:ROOM_NAME_LIMIT],
        )
        return unsealed.for_purpose(purpose, key)

    @property
    def life(self) -> float:
        """Seconds from issue to expiry, read without any clock: how long a claim on it must
        last wherever it is taken (journal.ticket_claim)."""
        return max(self.expires_at - self.issued_at, 0.0)

    def for_purpose(self, purpose: str, key: TicketKey) -> Ticket:
        """This ticket sealed for another button: same id, fields and expiry (a confirmation's
        Cancel takes the very claim its Stop would), but a value only that button accepts."""
        if purpose not in PURPOSES:
            raise ValueError(f"unknown ticket purpose {purpose!r}")
        # Slack's response URLs are ~100 ASCII characters; one that would not fit in a button
        # is left out (the channel is then reached by the Web API alone). IDs are checked to be
        # at most 64 characters before a ticket is issued, so the value then fits; if it still
        # does not, it is kept as it is and the caller leaves the button out (and decode would
        # refuse it). The room's name only names things, so it goes first.
        choices = ((self.response_url, self.room_name), (self.response_url, ""), ("", ""))
        for url, name in choices:
            fields = [
                self.id,
                self.room_id,
                self.job_id,
                self.requester,
                self.channel_id,
                self.issued_at,
                self.expires_at,
                url,
                purpose,
                name,
            ]
            payload = json.dumps(fields, separators=(",", ":"))
            sealed = f"{VERSION}.{key.mac(payload)}.{payload}"
            if len(sealed) <= MAX_VALUE:
                break
        return replace(self, response_url=url, purpose=purpose, sealed=sealed, room_name=name)

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at

    def encode(self) -> str:
        """The button value. Only an issued (or decoded) ticket has one."""
        if not self.sealed:
            raise ValueError("this ticket was not issued with a key")
        return self.sealed

    @classmethod
    def decode(
        cls, value: object, key: TicketKey, max_ttl: float, *, purpose: str
    ) -> Ticket | NotOurs:
        """The ticket in a button value, or why it is not one of ours. The MAC is checked
        (in constant time) before any field is read; then types, IDs, the expiry window, and
        that it was sealed for ``purpose`` (the clicked button's)."""
        if not isinstance(value, str) or not value.isascii() or len(value) > MAX_VALUE:
            return NotOurs("not an ASCII string of at most 2000 characters")
        version, _, rest = value.partition(".")
        mac, _, payload = rest.partition(".")
        if version != VERSION or len(mac) != _MAC_CHARS:
            return NotOurs("not a stoplive ticket")
        if not hmac.compare_digest(mac.encode(), key.mac(payload).encode()):
            return NotOurs("MAC does not match")
        try:
            fields = json.loads(payload)
        except ValueError:
            return NotOurs("payload is not JSON")
        if not isinstance(fields, list) or len(fields) != _FIELDS:
            return NotOurs("payload has the wrong shape")
        return cls._from_fields(fields, value, max_ttl, purpose)

    @classmethod
    def _from_fields(
        cls, fields: list[object], sealed: str, max_ttl: float, purpose: str
    ) -> Ticket | NotOurs:
        ident, room, job, requester, channel, issued, expires, response_url, sealed_for, name = (
            fields
        )
        if not (
            isinstance(ident, str)
            and isinstance(room, str)
            and isinstance(job, str)
            and isinstance(requester, str)
            and isinstance(channel, str)
            and isinstance(response_url, str)
            and isinstance(name, str)
        ):
            return NotOurs("a text field is not text")
        if sealed_for != purpose:
            return NotOurs(f"sealed for another button ({_shown(sealed_for)}), not {purpose!r}")
        if not (_is_number(issued) and _is_number(expires)):
            return NotOurs("a time is not a number")
        try:
            issued_at, expires_at = float(issued), float(expires)  # type: ignore[arg-type]
        except OverflowError:  # a 400-digit integer
            return NotOurs("a time is out of range")
        if not (math.isfinite(issued_at) and math.isfinite(expires_at)):
            return NotOurs("a time is not finite")
        if not 0 < expires_at - issued_at <= max_ttl + 0.001:
            return NotOurs("expiry is outside the confirmation window")
        try:
            check_resource_id("room ID", room)
            check_resource_id("job ID", job)
        except InvalidId as exc:
            return NotOurs(str(exc))
        return cls(
            ident,
            room,
            job,
            requester,
            channel,
            issued_at,
            expires_at,
            response_url,
            purpose,
            sealed,
            name[:ROOM_NAME_LIMIT],
        )


def _shown(value: object) -> str:
    """A sealed field as a refusal may name it: ours, but kept short all the same."""
    text = repr(value)
    return text if len(text) <= 20 else text[:17] + "..."


def _is_number(value: object) -> bool:
    """An int or a float, but not a bool (JSON ``true`` is not a time)."""
    return isinstance(value, int | float) and not isinstance(value, bool)
