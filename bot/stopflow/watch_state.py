"""What the stream watch is told (its rules and its clock) and what it remembers (the jobs
seen live, the outage count), kept apart from the poller in ``watching.py``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

from bot.stopflow.words.markup import Reply


@dataclass(frozen=True)
class NotifyRules:
    """What the watch tells, and where (the settings' ``STOPLIVE_NOTIFY_*``)."""

    channel_id: str
    every: float = 60.0
    ends: Literal["errors", "all"] = "errors"
    long_live_hours: float | None = None
    starts: bool = False


@dataclass(frozen=True)
class WatchClock:
    """The watch's seconds, one lease's life: taken (or renewed), polled within ``poll``,
    notes posted until ``margin`` before it lapses, saved while it still holds. Tests shrink
    them; a deployment has no reason to."""

    lease_ttl: float = 45.0  # a dead watcher is replaced within lease_ttl + lease_renew: 1 min
    lease_renew: float = 15.0
    poll: float = 25.0  # under lease_ttl - lease_renew: a poll ends while its lease still holds
    listing: float = 18.0  # of it, for the list: 500 live rooms read room by room take 9.4 s
    # one note's post, slack_sdk's retries included: a rate-limited channel (Retry-After)
    # would otherwise hold every other note, and the lease, for minutes
    note: float = 10.0
    # a note is begun only if its whole ``note`` fits before the lease has this little left
    # (the rest are told next poll): what was told is then saved (the lease renewed first)
    # before another replica can take over. With the defaults a poll keeps 5 s or more for notes
    margin: float = 5.0


@dataclass
class Watched:
    """One job the watch has seen live."""

    room_id: str
    room_name: str
    since: float  # MetaStudio's start_time, else when the watch first saw it (epoch s)
    long_told: bool = False


@dataclass
class WatchState:
    """What the watch remembers across polls, replicas and restarts (the store's note)."""

    live: dict[str, Watched] = field(default_factory=dict)
    learned: bool = False  # a list was read whole once: a job first seen after is a start
    failures: int = 0  # failed polls in a row
    failing_since: float = 0.0
    told_down: bool = False
    why: str = ""

    def dump(self) -> str:
        # in ``live``'s order: the jobs whose end was read longest ago are read first
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def load(cls, text: str) -> WatchState | None:
        """None if the note is not one this version wrote (then the watch learns afresh)."""
        try:
            raw = json.loads(text)
            live = {str(k): Watched(**v) for k, v in raw.pop("live").items()}
            return cls(live=live, **raw)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


@dataclass(frozen=True)
class Note:
    """A note to post; ``unposted`` puts back what made it news if the channel does not take
    it (or it is not reached in time), so the next poll tells it again rather than never."""

    kind: str  # the metric's label
    reply: Reply
    unposted: Callable[[], None] | None = None
