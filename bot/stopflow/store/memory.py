"""A store in this process's memory: for unit tests and a single throwaway process only.

It keeps the same promises as the shared stores within one process (one event loop, no
awaits inside a check-and-set), so the workflow's tests exercise the real contract.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from bot.stopflow.store.base import (
    UPDATABLE,
    Claim,
    JournalEntry,
    Ownership,
    Taken,
    entry_key,
    require_storable,
)

KEEP_FINISHED = 24 * 3600.0


class MemoryStore:
    def __init__(self, keep_finished: float = KEEP_FINISHED) -> None:
        """``keep_finished``: seconds a finished entry stays visible to ``recent``."""
        self._keep_finished = keep_finished
        self._claims: dict[str, tuple[str, float]] = {}
        self._journal: dict[str, JournalEntry] = {}
        self._notes: dict[str, tuple[str, float]] = {}

    async def claim(self, key: str, holder: str, ttl: float) -> str | None:
        require_storable(key=key, holder=holder)
        now = time.time()
        current = self._claims.get(key)
        if current is not None and current[1] > now:
            return current[0]
        self._claims[key] = (holder, now + ttl)
        return None

    async def release(self, key: str, holder: str) -> None:
        self._release(key, holder)

    async def hold(self, key: str, holder: str, ttl: float) -> str | None:
        require_storable(key=key, holder=holder)
        now = time.time()
        current = self._claims.get(key)
        if current is not None and current[1] > now and current[0] != holder:
            return current[0]
        self._claims[key] = (holder, now + ttl)
        return None

    async def put_note(self, key: str, text: str, ttl: float) -> None:
        require_storable(key=key, text=text)
        self._notes[key] = (text, time.time() + ttl)

    async def get_note(self, key: str) -> str | None:
        require_storable(key=key)
        text, expires = self._notes.get(key, ("", 0.0))
        return text if expires > time.time() else None

    def _release(self, key: str, holder: str) -> None:
        require_storable(key=key, holder=holder)
        if self._claims.get(key, ("", 0.0))[0] == holder:
            del self._claims[key]

    async def begin(
        self, entry: JournalEntry, owner: str, lease: float, claims: Sequence[Claim] = ()
    ) -> Taken | None:
        entry = entry.with_changes(owner=owner, lease_until=time.time() + lease)
        entry.to_record()  # refuses text a shared store could not keep
        for claim in claims:
            require_storable(key=claim.key, holder=claim.holder)
        existing = self._journal.get(entry.stop_id)
        if existing is not None:
            return Taken(entry_key(entry.stop_id), existing.owner)
        for claim in claims:
            holder = await self.claim(claim.key, claim.holder, claim.ttl)  # never awaits
            if holder is not None:
                return Taken(claim.key, holder)
        self._journal[entry.stop_id] = entry
        return None

    async def update(self, stop_id: str, owner: str, lease: float, **changes: str) -> Ownership:
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        require_storable(stop_id=stop_id, owner=owner, **changes)
        entry = self._journal.get(stop_id)
        if entry is None:
            return Ownership.MISSING
        if entry.owner != owner or entry.finished_at:
            return Ownership.ELSEWHERE
        self._journal[stop_id] = entry.with_changes(lease_until=time.time() + lease, **changes)
        return Ownership.OWNED

    async def finish(
        self,
        stop_id: str,
        owner: str,
        outcome: str,
        detail: str = "",
        release: tuple[str, str] | None = None,
    ) -> Ownership:
        require_storable(stop_id=stop_id, owner=owner, outcome=outcome, detail=detail)
        if release is not None:
            self._release(*release)
        entry = self._journal.get(stop_id)
        if entry is None:
            return Ownership.MISSING
        if entry.owner != owner:
            return Ownership.ELSEWHERE
        self._journal[stop_id] = entry.with_changes(
            step="finished",
            outcome=outcome,
            detail=detail,
            finished_at=time.time(),
            response_url="",
        )
        return Ownership.OWNED

    async def take_orphans(self, owner: str, lease: float, limit: int = 10) -> list[JournalEntry]:
        require_storable(owner=owner)
        now = time.time()
        taken: list[JournalEntry] = []
        for stop_id, entry in list(self._journal.items()):
            if len(taken) >= limit:
                break
            if entry.finished_at or entry.lease_until > now:
                continue
            took = entry.with_changes(
                owner=owner, lease_until=now + lease, recovered_from=entry.owner
            )
            self._journal[stop_id] = took
            taken.append(took)
        return taken

    async def recent(self, since: float) -> list[JournalEntry]:
        self._forget_old()
        found = [e for e in self._journal.values() if e.created_at >= since]
        return sorted(found, key=lambda e: e.created_at, reverse=True)

    async def prune(self) -> None:
        self._forget_old()
        now = time.time()
        for key, (_, expires) in list(self._claims.items()):
            if expires <= now:
                del self._claims[key]
        for key, (_, expires) in list(self._notes.items()):
            if expires <= now:
                del self._notes[key]

    async def ping(self) -> None:
        return None

    async def caveats(self) -> list[str]:
        return []

    async def aclose(self) -> None:
        return None

    def _forget_old(self) -> None:
        cutoff = time.time() - self._keep_finished
        for stop_id, entry in list(self._journal.items()):
            if entry.finished_at and entry.finished_at < cutoff:
                del self._journal[stop_id]
