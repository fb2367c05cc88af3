"""The allowlist in force, following its file (the shape, its parsing and :class:`Allowlist`
itself are in ``allowlist.py``).

:class:`LiveAllowlist` holds the version in force and swaps in a re-read file atomically, so
revoking someone needs no restart. A re-read never keeps an old grant the file no longer
gives: removals always apply, a bad entry is refused (its user may not stop until it is
fixed, even one who could before), ``{}`` or an empty file means nobody, and a file that is
gone or unreadable means nobody until it is back.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
import time
from collections.abc import Mapping

from bot.stopflow.allowlist import (
    Allowlist,
    AllowlistError,
    Grant,
    file_source,
    parse_bytes,
    read_bounded,
)

ALLOWLIST_POLL_SECONDS = 5.0  # a stat() every 5 s costs nothing; a revocation lands within it
# A file written in place (not by rename) may be read half-written: read again after a pause,
# this many times in all, before taking what it says (an editor's save takes milliseconds).
READ_ATTEMPTS = 3
SETTLE_SECONDS = 0.2
EMPTY_WARNING = "the allowlist is empty: nobody may stop streams"
# The logger of allowlist.py, where this lived: log filters and the tests know it by that name.
log = logging.getLogger("bot.stopflow.allowlist")


class LiveAllowlist:
    """The allowlist in force, re-read from its file when that changes or on request.

    What a re-read finds takes effect, and never widens access by mistake:

    - good entries apply; each bad one is refused and named in one WARNING, and its user may
      not stop until it is fixed (so an edit that removes someone applies even if it breaks
      someone else's entry, and a broken entry never keeps its old grant);
    - ``{}`` or an empty file: nobody may stop (a WARNING says so);
    - a file that is gone, unreadable, or not JSON or YAML at all: nobody may stop (one ERROR
      line), until a readable file is back;
    - a file read while being written (it changed during the read, or does not parse, or is
      empty) is read again after a pause before any of that is decided.

    A swap is one attribute assignment, so a request sees either the old or the new version,
    never a mix.
    """

    def __init__(
        self, first: Allowlist, path: str | None = None, settle: float = SETTLE_SECONDS
    ) -> None:
        self._current = first
        self._path = path
        self._settle = settle  # the pause before reading a file caught mid-write again
        self._lock = threading.Lock()
        self._wake = asyncio.Event()
        self._seen_stat: tuple[int, int, int, int] | None = None
        self._seen_digest: str | None = None
        self._failure: str | None = None  # why nobody may stop, while the file is unusable
        if not first.grants:  # revoking everyone survives a restart, and says so
            log.warning(EMPTY_WARNING)

    @classmethod
    def from_file(cls, path: str, settle: float = SETTLE_SECONDS) -> LiveAllowlist:
        seen_stat = _stat(path)  # before reading: a change made meanwhile is seen by watch()
        raw = read_bounded(path)
        live = cls(Allowlist.from_bytes(raw, source=file_source(path)), path, settle)
        live._seen_stat = seen_stat
        live._seen_digest = hashlib.sha256(raw).hexdigest()
        return live

    @property
    def current(self) -> Allowlist:
        return self._current

    @property
    def grants(self) -> Mapping[str, Grant]:
        return self._current.grants

    def grant_for(self, slack_user_id: str) -> Grant | None:
        return self._current.grant_for(slack_user_id)

    def __len__(self) -> int:
        return len(self._current)

    def reload(self) -> bool:
        """Re-read the file. True if what it says took effect (nobody, if it is unusable and
        somebody could stop before); False if there is no file to follow or nothing changed."""
        if self._path is None:
            return False
        with self._lock:
            source = file_source(self._path)
            try:
                raw, data = self._read_settled(self._path)
                digest = hashlib.sha256(raw).hexdigest()
                if digest == self._seen_digest and self._failure is None:
                    return False
                new, problems = Allowlist.salvage(data, source=source)
            except AllowlistError as exc:
                return self._fail_closed(str(exc))
            old = self._current
            held_back = False
            if new.within(old) != new and not self._holds_still(raw):
                # A file cut off mid-write can still parse (YAML ending before an entry's
                # ``rooms:`` reads as every room): what it takes away applies now, what it
                # adds only once the file holds still (the next look, as it changed).
                new, held_back = new.within(old), True
            self._current, self._failure = new, None
            self._seen_digest = None if held_back else digest
        restricted = sum(1 for g in new.grants.values() if g.rooms is not None)
        summary = (
            f"allowlist reloaded from {source}: {len(new)} users ({restricted} restricted to "
            f"rooms), was {len(old)}"
        )
        if held_back:
            log.info("%s; what it adds waits until the file stops changing", summary)
        elif problems:
            refused = "; ".join(AllowlistError(problems).problems)
            log.warning("%s; refused, so these may not stop until fixed: %s", summary, refused)
        elif not new.grants:
            log.warning("%s: %s", summary, EMPTY_WARNING)
        else:
            log.info("%s", summary)
        return True

    def _read_settled(self, path: str) -> tuple[bytes, object]:
        """The file's bytes and data, read again (after ``settle`` seconds) while it looks
        caught mid-write: changed during the read, empty, or not parsing. AllowlistError if
        it still cannot be read or parsed on the last attempt."""
        for attempt in range(1, READ_ATTEMPTS + 1):
            last = attempt == READ_ATTEMPTS
            before = _stat(path)
            self._seen_stat = before
            try:
                raw = read_bounded(path)
                data = parse_bytes(raw, source=file_source(path))
            except AllowlistError:
                if last or before == (0, 0, 0, 0):  # gone: nothing to wait for
                    raise
            else:
                if last or (_stat(path) == before and raw.strip()):
                    return raw, data
            time.sleep(self._settle)  # in watch()'s worker thread, never on the loop
        raise AssertionError  # pragma: no cover - the last attempt returns or raises

    def _holds_still(self, raw: bytes) -> bool:
        """Whether the file still holds ``raw`` after ``settle`` seconds: a change that widens
        access is applied only then."""
        time.sleep(self._settle)  # in watch()'s worker thread, never on the loop
        try:
            return read_bounded(self._path or "") == raw
        except AllowlistError:
            return False

    def _fail_closed(self, why: str) -> bool:
        """Nobody may stop until the file is usable again; one ERROR line per cause. True if
        that took access away (False if nobody could stop already)."""
        changed = bool(self._current.grants)
        self._current = Allowlist(grants={})
        self._seen_digest = None  # the same good content coming back must apply again
        if self._failure != why:
            log.error("allowlist unusable, so nobody may stop streams until it is fixed: %s", why)
        self._failure = why
        return changed

    def reload_soon(self) -> None:
        """Ask :meth:`watch` to re-read the file now (a SIGHUP handler)."""
        self._wake.set()

    async def watch(self, interval: float) -> None:
        """Poll the file's size and mtime every ``interval`` seconds (or when
        :meth:`reload_soon` is called) and reload it when they change. Runs until cancelled;
        returns at once when the allowlist does not come from a file."""
        if self._path is None:
            return
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), interval)
            except TimeoutError:
                if _stat(self._path) == self._seen_stat:
                    continue
            self._wake.clear()
            await asyncio.to_thread(self.reload)  # a large YAML file must not stall requests


def _stat(path: str) -> tuple[int, int, int, int]:
    """What changes when a file is edited or replaced; zeros when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return (0, 0, 0, 0)
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
