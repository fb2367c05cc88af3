"""The last day of stops, read from the stop journal: ``/stoplive recent`` and the App Home tab.

Why the journal: every confirmed stop is written there before the stop call and closed with its
verdict (:mod:`~bot.stopflow.store`), by whichever replica finished it, so it is the one record
that is complete across replicas and restarts. Nothing here talks to Slack or phrases anything: it
reads the store, and :mod:`bot.stopflow.words.home` says what it read.

Who sees what follows the allowlist: someone off it sees no history (only how to get on it);
someone granted some rooms only sees the stops in those rooms.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from bot.stopflow.allowlist import Grant
from bot.stopflow.policy import Policy
from bot.stopflow.store import JournalEntry, StateStore, StoreUnavailable
from bot.stopflow.watching import read_status
from bot.stopflow.words import stream_notes
from bot.stopflow.words.home import home_view, recent_reply
from bot.stopflow.words.markup import Reply

log = logging.getLogger(__name__)

WINDOW = 24 * 3600.0  # seconds of history shown
READ_SECONDS = 2.0  # a store that does not answer in this long is reported, not waited on


async def read_recent(store: StateStore, now: float | None = None) -> list[JournalEntry] | None:
    """The journal's entries of the last :data:`WINDOW`, newest first; None if the store could
    not be read in :data:`READ_SECONDS` (said to the reader, never raised)."""
    since = (now if now is not None else time.time()) - WINDOW
    try:
        return await asyncio.wait_for(store.recent(since), timeout=READ_SECONDS)
    except (StoreUnavailable, TimeoutError) as exc:
        log.warning("could not read the stop history: %s", exc or "no answer in time")
        return None


def visible_to(grant: Grant, entries: Sequence[JournalEntry]) -> list[JournalEntry]:
    """The entries a grant may see: every one, or those in the grant's rooms."""
    return [entry for entry in entries if grant.covers(entry.room_id)]


class History:
    """What the Home tab and ``/stoplive recent`` ask: the allowlist (who may see) and the
    journal (what happened)."""

    def __init__(
        self, policy: Policy, store: StateStore, notify_channel: str | None = None
    ) -> None:
        self._policy = policy
        self._store = store
        self._notify_channel = notify_channel  # where the stream watch posts (None: off)

    async def home(self, user_id: str, workspace_url: str) -> dict[str, Any]:
        grant = self._policy.allowlist.grant_for(user_id)
        entries = await self._visible(grant) if grant is not None else []
        watch = None
        if grant is not None:  # the watch's state, as its last poll (any replica's) left it
            status = await read_status(self._store) if self._notify_channel else None
            watch = stream_notes.home_section(status, self._notify_channel)
        return home_view(grant, self._policy, entries, workspace_url, watch)

    async def recent(self, grant: Grant, workspace_url: str) -> Reply:
        """For someone the gate has already let in."""
        return recent_reply(
            await self._visible(grant), workspace_url, restricted=grant.rooms is not None
        )

    async def _visible(self, grant: Grant) -> list[JournalEntry] | None:
        entries = await read_recent(self._store)
        return None if entries is None else visible_to(grant, entries)
