"""A state store in a SQLite file: the default, so one replica restarted in place finishes
what its killed predecessor left.

The file is created on first use, in WAL mode: readers do not block the writer, and a commit
survives the process being killed (``synchronous=NORMAL``; only a power loss may take the last
commits back). Every check-and-set is one statement or one ``BEGIN IMMEDIATE`` transaction, so
several processes on the same file (a restart overlapping its predecessor, ``python -m bot
check``) stay correct; a writer waits at most ``busy_timeout`` for another, then the call fails
closed.

Where the work runs: every call runs in the store's one thread, on its one connection, so the
loop never waits on the disk or for another process's lock (the connection waits for it, up to
``busy_timeout``); SQLite checkpoints the WAL itself, in that thread. This replaced a design with
a second connection used on the loop and hand-offs to the thread (issue 20): with the same load
and stand-ins, 21 runs each, a burst of 50 users showed no difference beyond the noise (this
design minus the other, median [95 % interval]: command ack p99 -2 ms [-10, +5], click ack p99
-5 ms [-7, 0], click -> announcement p50 -10 ms [-29, +32]), nor did one user (click ->
announcement p50 +1 ms [-2, +3]); see bench/README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import fields
from typing import TypeVar

from bot.metrics import STORE_ERRORS
from bot.stopflow.store.base import (
    FIELDS,
    UPDATABLE,
    Claim,
    JournalEntry,
    Ownership,
    StoreUnavailable,
    Taken,
    entry_key,
    require_storable,
)
from bot.stopflow.store.memory import KEEP_FINISHED
from bot.stopflow.store.sqlite_file import private, switch_to_wal

DEFAULT_STATE_FILE = "stoplive-state.db"  # STOPLIVE_STATE_FILE default (bot/config.py)
BUSY_SECONDS = 2.0

T = TypeVar("T")
log = logging.getLogger(__name__)

_COLUMN_LIST = ", ".join(FIELDS)
_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS claims"
    " (key TEXT PRIMARY KEY, holder TEXT NOT NULL, expires REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS claims_expires ON claims (expires)",
    "CREATE TABLE IF NOT EXISTS journal (stop_id TEXT PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS notes"
    " (key TEXT PRIMARY KEY, text TEXT NOT NULL, expires REAL NOT NULL)",
]
_INDEXES = [
    "CREATE INDEX IF NOT EXISTS journal_open ON journal (lease_until) WHERE finished_at = 0",
    "CREATE INDEX IF NOT EXISTS journal_created ON journal (created_at)",
]


def _column_definition(name: str) -> str:
    """A journal column as JournalEntry declares it; the default lets a newer field be added to
    a file written by an older stoplive."""
    kind = next(field.type for field in fields(JournalEntry) if field.name == name)
    return (
        f"{name} REAL NOT NULL DEFAULT 0" if kind == "float" else f"{name} TEXT NOT NULL DEFAULT ''"
    )


@contextmanager
def _write_transaction(db: sqlite3.Connection) -> Iterator[None]:
    """Hold the file's write lock from the first read, so a read-then-write cannot interleave
    with another connection's."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")  # a COMMIT that fails leaves the transaction open: roll it back
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _roll_back(db: sqlite3.Connection) -> None:
    """Leave no transaction open on the long-lived connection after a failure."""
    if db.in_transaction:
        # if even this fails, the connection is unusable: the next call fails closed, and says so
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def _take(db: sqlite3.Connection, claims: Sequence[Claim]) -> Taken | None:
    """Inside a write transaction: take ``claims`` in order, up to the first one held."""
    now = time.time()
    db.execute("DELETE FROM claims WHERE expires <= ?", (now,))
    for claim in claims:
        row = db.execute("SELECT holder FROM claims WHERE key = ?", (claim.key,)).fetchone()
        if row is not None:
            return Taken(claim.key, str(row[0]))
        db.execute(
            "INSERT INTO claims VALUES (?, ?, ?)", (claim.key, claim.holder, now + claim.ttl)
        )
    return None


def _ownership(db: sqlite3.Connection, changed: sqlite3.Cursor, stop_id: str) -> Ownership:
    """After a conditional UPDATE of one entry: applied, or why not. The second read only runs
    when the update was refused, which a working replica never sees."""
    if changed.rowcount == 1:
        return Ownership.OWNED
    found = db.execute("SELECT 1 FROM journal WHERE stop_id = ?", (stop_id,)).fetchone()
    return Ownership.MISSING if found is None else Ownership.ELSEWHERE


def _entry(row: tuple[object, ...]) -> JournalEntry:
    return JournalEntry.from_record(
        {name: str(value) for name, value in zip(FIELDS, row, strict=True)}
    )


class SqliteStore:
    def __init__(
        self,
        path: str,
        *,
        busy_timeout: float = BUSY_SECONDS,
        keep_finished: float = KEEP_FINISHED,
    ) -> None:
        """``path``: the file, created on first use (its directory must exist)."""
        self._path = path
        self._busy_timeout = busy_timeout
        self._keep_finished = keep_finished
        self._db: sqlite3.Connection | None = None  # used in the thread only
        self._closed = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stoplive-sqlite")

    def __repr__(self) -> str:
        return f"SqliteStore({self._path!r})"

    async def claim(self, key: str, holder: str, ttl: float) -> str | None:
        require_storable(key=key, holder=holder)

        def work(db: sqlite3.Connection) -> str | None:
            with _write_transaction(db):
                taken = _take(db, [Claim(key, holder, ttl)])
            return None if taken is None else taken.holder

        return await self._run("claim", work)

    async def release(self, key: str, holder: str) -> None:
        require_storable(key=key, holder=holder)

        def work(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM claims WHERE key = ? AND holder = ?", (key, holder))

        await self._run("release", work)

    async def hold(self, key: str, holder: str, ttl: float) -> str | None:
        require_storable(key=key, holder=holder)

        def work(db: sqlite3.Connection) -> str | None:
            now = time.time()
            with _write_transaction(db):
                row = db.execute(
                    "SELECT holder FROM claims WHERE key = ? AND expires > ?", (key, now)
                ).fetchone()
                if row is not None and row[0] != holder:
                    return str(row[0])
                db.execute(
                    "INSERT OR REPLACE INTO claims VALUES (?, ?, ?)", (key, holder, now + ttl)
                )
            return None

        return await self._run("hold", work)

    async def put_note(self, key: str, text: str, ttl: float) -> None:
        require_storable(key=key, text=text)

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO notes VALUES (?, ?, ?)", (key, text, time.time() + ttl)
            )

        await self._run("put_note", work)

    async def get_note(self, key: str) -> str | None:
        require_storable(key=key)

        def work(db: sqlite3.Connection) -> str | None:
            row = db.execute(
                "SELECT text FROM notes WHERE key = ? AND expires > ?", (key, time.time())
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._run("get_note", work)

    async def begin(
        self, entry: JournalEntry, owner: str, lease: float, claims: Sequence[Claim] = ()
    ) -> Taken | None:
        entry.with_changes(owner=owner).to_record()  # refuses text it cannot keep
        for claim in claims:
            require_storable(key=claim.key, holder=claim.holder)

        def work(db: sqlite3.Connection) -> Taken | None:
            row = entry.with_changes(owner=owner, lease_until=time.time() + lease).row()
            marks = ", ".join("?" * len(row))
            with _write_transaction(db):
                found = db.execute(
                    "SELECT owner FROM journal WHERE stop_id = ?", (entry.stop_id,)
                ).fetchone()
                if found is not None:
                    return Taken(entry_key(entry.stop_id), str(found[0]))
                taken = _take(db, claims)
                if taken is None:
                    db.execute(f"INSERT INTO journal ({_COLUMN_LIST}) VALUES ({marks})", row)
            # committed either way: the claims taken before a held one stay taken
            return taken

        return await self._run("begin", work)

    async def update(self, stop_id: str, owner: str, lease: float, **changes: str) -> Ownership:
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        require_storable(stop_id=stop_id, owner=owner, **changes)
        assignments = "".join(f", {name} = ?" for name in changes)  # names from UPDATABLE only

        def work(db: sqlite3.Connection) -> Ownership:
            cursor = db.execute(
                f"UPDATE journal SET lease_until = ?{assignments}"
                " WHERE stop_id = ? AND owner = ? AND finished_at = 0",
                (time.time() + lease, *changes.values(), stop_id, owner),
            )
            return _ownership(db, cursor, stop_id)

        return await self._run("update", work)

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
            require_storable(key=release[0], holder=release[1])

        def work(db: sqlite3.Connection) -> Ownership:
            with _write_transaction(db):
                if release is not None:
                    db.execute("DELETE FROM claims WHERE key = ? AND holder = ?", release)
                cursor = db.execute(
                    "UPDATE journal SET step = 'finished', outcome = ?, detail = ?,"
                    " finished_at = ?, response_url = '' WHERE stop_id = ? AND owner = ?",
                    (outcome, detail, time.time(), stop_id, owner),
                )
                return _ownership(db, cursor, stop_id)

        return await self._run("finish", work)

    async def take_orphans(self, owner: str, lease: float, limit: int = 10) -> list[JournalEntry]:
        require_storable(owner=owner)
        if limit <= 0:
            return []

        def work(db: sqlite3.Connection) -> list[JournalEntry]:
            # One statement: SQLite takes the write lock before it reads, so no other
            # connection can take the same rows; SET reads each row's previous owner.
            now = time.time()
            rows = db.execute(
                "UPDATE journal SET recovered_from = owner, owner = ?, lease_until = ?"
                " WHERE stop_id IN (SELECT stop_id FROM journal"
                "  WHERE finished_at = 0 AND lease_until <= ? ORDER BY lease_until LIMIT ?)"
                f" RETURNING {_COLUMN_LIST}",
                (owner, now + lease, now, limit),
            ).fetchall()
            return [_entry(row) for row in rows]

        return await self._run("take_orphans", work)

    async def recent(self, since: float) -> list[JournalEntry]:
        def work(db: sqlite3.Connection) -> list[JournalEntry]:
            self._forget_finished(db)
            rows = db.execute(
                f"SELECT {_COLUMN_LIST} FROM journal WHERE created_at >= ?"
                " ORDER BY created_at DESC",
                (since,),
            ).fetchall()
            return [_entry(row) for row in rows]

        return await self._run("recent", work)

    async def prune(self) -> None:
        def work(db: sqlite3.Connection) -> None:
            self._forget_finished(db)
            db.execute("DELETE FROM claims WHERE expires <= ?", (time.time(),))
            db.execute("DELETE FROM notes WHERE expires <= ?", (time.time(),))

        await self._run("prune", work)

    def _forget_finished(self, db: sqlite3.Connection) -> None:
        forget_before = time.time() - self._keep_finished
        db.execute(
            "DELETE FROM journal WHERE finished_at > 0 AND finished_at < ?", (forget_before,)
        )

    async def ping(self) -> None:
        """A read on a connection of its own, in a thread of its own: ``/healthz`` answers
        while the store's thread waits for another process's write lock (WAL: reads never
        wait for a writer). The first call opens the store's connection, creating the file."""
        if self._db is None:
            await self._run("ping", lambda db: None)
            return

        def read() -> None:
            with contextlib.closing(sqlite3.connect(self._path, timeout=self._busy_timeout)) as db:
                db.execute("SELECT count(*) FROM journal").fetchone()

        try:
            if self._closed:
                raise StoreUnavailable("store closed")
            await asyncio.to_thread(read)
        except (StoreUnavailable, sqlite3.Error) as exc:
            STORE_ERRORS.labels("ping").inc()
            raise StoreUnavailable(f"SQLite ping on {self._path}: {exc}") from exc

    async def caveats(self) -> list[str]:
        return []  # one host's file and clock: nothing to agree with

    async def aclose(self) -> None:
        def close() -> None:  # closing may checkpoint, so in the thread
            if self._db is not None:
                self._db.close()
            self._db = None

        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._thread, close)
        self._thread.shutdown(wait=False)

    async def _run(self, operation: str, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in the store's one thread on its one connection; every failure
        becomes StoreUnavailable, counted."""

        def run() -> T:
            if self._closed:
                raise StoreUnavailable("store closed")
            if self._db is None:
                self._db = self._open()
            try:
                return work(self._db)
            except sqlite3.Error:
                _roll_back(self._db)
                raise

        try:
            if self._closed:
                raise StoreUnavailable("store closed")
            return await asyncio.get_running_loop().run_in_executor(self._thread, run)
        except (StoreUnavailable, RuntimeError) as exc:  # RuntimeError: the thread shut down
            STORE_ERRORS.labels(operation).inc()
            raise StoreUnavailable(f"SQLite {operation} on {self._path}: {exc}") from exc
        except sqlite3.Error as exc:
            STORE_ERRORS.labels(operation).inc()
            raise StoreUnavailable(f"SQLite {operation} on {self._path}: {exc}") from exc

    def _open(self) -> sqlite3.Connection:
        """Open (creating) the file and bring its schema up to this JournalEntry."""
        private(self._path)
        db = sqlite3.connect(
            self._path,
            timeout=self._busy_timeout,
            isolation_level=None,
        )
        try:
            switch_to_wal(db, self._busy_timeout)
            db.execute("PRAGMA synchronous = NORMAL")
            # a blanked response_url must not linger in a freed cell: overwrite deleted content
            db.execute("PRAGMA secure_delete = ON")
            with _write_transaction(db):
                for statement in _SCHEMA:
                    db.execute(statement)
                present = {row[1] for row in db.execute("PRAGMA table_info(journal)")}
                for name in FIELDS:
                    if name not in present:
                        db.execute(f"ALTER TABLE journal ADD COLUMN {_column_definition(name)}")
                for statement in _INDEXES:
                    db.execute(statement)
        except BaseException:
            db.close()
            raise
        return db
