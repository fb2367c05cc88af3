"""The one small async interface every state store implements, and the journal entry it keeps.

Why a journal: a stop is sent once, but the process that sent it may die before it tells
anyone. Each confirmed stop is written down *before* the stop call, its owner renews a lease
while it works, and whoever finds an expired lease (another replica, or the next start) takes
the stop over and finishes it: reads the job, posts the truthful outcome, audits it.

Every method raises :class:`StoreUnavailable` when the store cannot be reached (within a couple
of seconds, never a hang) or is handed text it cannot keep; callers fail closed (no stop is
sent without a claim and a journal entry).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import MISSING, dataclass, fields, replace
from enum import Enum
from operator import attrgetter
from typing import Protocol


class StoreUnavailable(Exception):
    """The store could not be reached or answered nonsense, or was handed text it cannot keep;
    the message says which."""

    reason = "store_unavailable"  # the fixed word ``/healthz`` answers (the message is logged)


class StoreRefusesWrites(StoreUnavailable):
    """The store answers but will not write: Redis over ``maxmemory`` with ``noeviction``, or a
    read-only replica. Told apart because "not answering" sends people to the wrong fix."""

    reason = "store_refuses_writes"


class Ownership(Enum):
    """What :meth:`StateStore.update` and :meth:`StateStore.finish` found.

    "Missing" is not "someone else's": a Redis flushed or restarted without persistence forgets
    the entry while its owner is still at work, and that owner must write it back and carry on,
    where a stop taken over by another replica must go quiet. Only ``OWNED`` is truthy.
    """

    OWNED = "owned"  # the change was applied
    MISSING = "missing"  # no such entry: the store forgot it (or never had it)
    ELSEWHERE = "elsewhere"  # another owner holds it, or it is already finished

    def __bool__(self) -> bool:
        return self is Ownership.OWNED


def require_storable(**texts: str) -> None:
    """StoreUnavailable unless every text can be written as UTF-8, naming the first that cannot.

    A lone surrogate (``"\\ud800"``, which ``json.loads`` yields for a crafted payload) cannot
    leave Python as UTF-8: redis-py and sqlite3 would raise UnicodeEncodeError, which no caller
    expects. Every store (memory too) refuses it up front, before writing anything, with the
    one error callers already fail closed on.
    """
    for name, text in texts.items():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise StoreUnavailable(f"{name}: not storable (not valid Unicode text)") from None


@dataclass(frozen=True)
class JournalEntry:
    """One confirmed stop, from before the stop call until its outcome is posted.

    Every field is a string or a float so that each store can keep it as a flat record (a
    Redis hash, a SQLite row) without a schema per step.
    """

    stop_id: str  # the confirmation's ticket id: one journal entry per confirmation
    room_id: str
    job_id: str
    requester: str  # Slack user ID
    channel_id: str
    app_user_id: str  # X-App-UserId the stop is made as
    response_url: str  # the command's: the fallback way into the channel
    created_at: float  # epoch seconds
    step: str = "confirmed"  # confirmed -> sent -> answered | unanswered -> finished
    channel_ts: str = ""  # the channel message to revise, once posted
    request_id: str = ""  # MetaStudio's X-Request-Id of the stop, once answered
    outcome: str = ""  # the verdict, once known
    detail: str = ""  # what the audit line said
    owner: str = ""  # the replica working on it (or that finished it)
    lease_until: float = 0.0  # epoch seconds by the store's clock; after it, anyone may take over
    recovered_from: str = ""  # the owner a take-over found gone
    finished_at: float = 0.0  # by the store's clock
    room_name: str = ""  # as the confirmation showed it: a take-over and the history name it

    def row(self) -> tuple[str | float, ...]:
        """Every field's value, in :data:`FIELDS` order. Every field is flat, so this need
        not copy deeply as ``dataclasses.astuple`` does: that copy was a fifth of a confirmed
        stop's work on the event loop before its stop call (bench/burst.py)."""
        return _ROW(self)

    def to_record(self) -> dict[str, str]:
        """Every field as text; StoreUnavailable if a text field cannot be stored."""
        record = {name: str(value) for name, value in zip(FIELDS, self.row(), strict=True)}
        require_storable(**record)
        return record

    @classmethod
    def from_record(cls, record: dict[str, str]) -> JournalEntry:
        """Rebuild an entry from :meth:`to_record`'s output; StoreUnavailable if it is not one.
        A field with a default may be missing: an entry written by an older stoplive (still
        in Redis across an upgrade) lacks the fields added since, and must be taken over, not
        refused as unreadable."""
        values: dict[str, str | float] = {}
        try:
            for field in fields(cls):
                if field.name not in record and field.default is not MISSING:
                    continue
                raw = record[field.name]
                values[field.name] = float(raw) if field.type == "float" else raw
            return cls(**values)  # type: ignore[arg-type]
        except (KeyError, ValueError, TypeError) as exc:
            raise StoreUnavailable(f"journal entry unreadable ({exc!r})") from None

    def with_changes(self, **changes: str | float) -> JournalEntry:
        return replace(self, **changes)  # type: ignore[arg-type]


FIELDS = tuple(field.name for field in fields(JournalEntry))  # a SQLite row's columns, in order
_ROW = attrgetter(*FIELDS)


@dataclass(frozen=True)
class Claim:
    """A once-only hold to take: ``key`` for ``holder``, for ``ttl`` seconds."""

    key: str
    holder: str
    ttl: float


@dataclass(frozen=True)
class Taken:
    """A claim somebody already holds: ``holder`` has ``key``. For a journal entry that already
    exists, ``key`` is :func:`entry_key` of it and ``holder`` its owner."""

    key: str
    holder: str


def entry_key(stop_id: str) -> str:
    """What :meth:`StateStore.begin` names in :class:`Taken` when the entry itself exists."""
    return f"stop:{stop_id}"


# The fields a caller may change with :meth:`StateStore.update`.
UPDATABLE = frozenset({"step", "channel_ts", "request_id", "outcome", "detail"})


class StateStore(Protocol):
    """Claims (once-only) and the stop journal. Times are epoch seconds by the store's clock:
    Redis's ``TIME`` for Redis (replicas' clocks need not agree), this host's otherwise.
    ``created_at`` is the only time a caller writes, and no lease is measured from it."""

    async def claim(self, key: str, holder: str, ttl: float) -> str | None:
        """Take ``key`` for ``holder`` for ``ttl`` seconds if nobody holds it.

        Returns None when this call took it, else the holder already there (so a second
        click can be told who is already stopping the job)."""

    async def release(self, key: str, holder: str) -> None:
        """Give ``key`` back, only if ``holder`` still holds it."""

    async def hold(self, key: str, holder: str, ttl: float) -> str | None:
        """Take ``key`` for ``holder`` for ``ttl`` seconds, or extend it if ``holder`` holds it
        already: a lease only its holder renews (the one stream watcher among replicas). None
        when ``holder`` holds it now, else the other holder. Claims and holds share keys."""

    async def put_note(self, key: str, text: str, ttl: float) -> None:
        """Keep ``text`` under ``key`` for ``ttl`` seconds, replacing any earlier note: what
        must outlive one process and one request but is no journal entry (the set a stop-all
        confirmation names, what the stream watcher has already announced)."""

    async def get_note(self, key: str) -> str | None:
        """The note under ``key``; None if there is none, or it expired."""

    async def begin(
        self, entry: JournalEntry, owner: str, lease: float, claims: Sequence[Claim] = ()
    ) -> Taken | None:
        """Take ``claims`` in order, then write a new journal entry owned by ``owner`` with a
        lease of ``lease`` seconds; all in one step (one round trip: a confirmed stop waits
        for it). If an entry of the same ``stop_id`` exists (finished or not), nothing is taken
        and its owner is returned under :func:`entry_key`: a confirmation stops once, even when
        its claim has expired or was lost. At the first claim somebody else holds, stop and
        return it: the entry is not written, and the claims before it stay taken, as if each
        had been asked on its own. None when the entry was written."""

    async def update(self, stop_id: str, owner: str, lease: float, **changes: str) -> Ownership:
        """Apply ``changes`` (fields in UPDATABLE) and renew the lease, if ``owner`` still owns
        the unfinished entry. ELSEWHERE when it does not (someone took it over: the caller must
        go quiet); MISSING when there is no entry (the caller writes it back)."""

    async def finish(
        self,
        stop_id: str,
        owner: str,
        outcome: str,
        detail: str = "",
        release: tuple[str, str] | None = None,
    ) -> Ownership:
        """Close the entry (outcome posted); it is kept for a day for ``recent``, its
        ``response_url`` blanked (whoever holds one may post into the channel as the app, and
        a finished stop needs it no more). ELSEWHERE if ``owner`` no longer owns it, MISSING
        if there is no entry. ``release``, a claim's (key, holder), is given back in the same
        step as :meth:`release` would, whatever the entry's answer: every stop ends with both,
        and one write is one round trip less per stop (and one fewer SQLite commit)."""

    async def take_orphans(self, owner: str, lease: float, limit: int = 10) -> list[JournalEntry]:
        """Atomically take over unfinished entries whose lease has expired: each is returned to
        exactly one caller across every replica, now owned by ``owner`` with a fresh lease and
        ``recovered_from`` set to the previous owner."""

    async def recent(self, since: float) -> list[JournalEntry]:
        """Entries created at or after ``since``, newest first (finished or not)."""

    async def prune(self) -> None:
        """Forget what is past keeping: entries finished longer ago than the keep time (a
        day), expired claims and notes. ``recent`` forgets them too, but a bot whose history nobody
        opens must not keep every stop forever: the workflow calls this on a schedule."""

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers, StoreRefusesWrites unless it also
        takes a write (Redis: a key of its own with a short expiry)."""

    async def caveats(self) -> list[str]:
        """What in the store's set-up may lose or refuse what stoplive writes, one sentence
        each (``python -m bot check`` and the log warn of them); [] when nothing. Raises
        StoreUnavailable like every call."""

    async def aclose(self) -> None: ...
