"""A state store in a SQLite file: the default, so one replica restarted in place finishes
what its killed predecessor left.

The file is created on first use, in WAL mode: readers do not block the writer, and a commit
survives the process being killed (``synchronous=NORMAL``; only a power loss may take the last
commits back). Every check-and-set is one statement or one ``BEGIN IMMEDIATE`` transaction, so
several processes on the same file (a restart overlapping its predecessor, ``python -m bot
check``) stay correct; a writer waits at most ``busy_timeout`` for another, then the call fails
closed.

Where the work runs: a store call is a few statements, a fraction of a millisecond, so it runs
on the event loop's own connection. Handing each call to a thread made it wait for the GIL at
every statement instead: under a burst of 200 clicks a claim took 3-5 ms and the stops queued
behind one another for half a second (bench/burst.py). What can wait on the disk goes to the
store's one worker thread, on a connection of its own, so the loop never does: opening the
file, checkpoints (in WAL mode with ``synchronous=NORMAL`` the only writes that sync to disk;
the loop's connection never makes one), the first write after a checkpoint (it restarts the
WAL, which syncs its header), and a call that finds another process writing (the loop's
connection does not wait for the file lock: the thread's does, up to ``busy_timeout``). While
the thread runs such a call, the loop's next calls wait for it, then run on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import fields
from typing import Any, TypeVar

from bot.metrics import STORE_ERRORS, STORE_WAITS
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

DEFAULT_STATE_FILE = "stoplive-state.db"  # STOPLIVE_STATE_FILE default (bot/config.py)
BUSY_SECONDS = 2.0
CHECKPOINT_EVERY = 100  # store calls between checkpoints (SQLite's own default is ~1000 pages)

T = TypeVar("T")
log = logging.getLogger(__name__)

_COLUMN_LIST = ", ".join(FIELDS)
_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS claims"
    " (key TEXT PRIMARY KEY, holder TEXT NOT NULL, expires REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS claims_expires ON claims (expires)",
    "CREATE TABLE IF NOT EXISTS journal (stop_id TEXT PRIMARY KEY)",
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


def _switch_to_wal(db: sqlite3.Connection, within: float) -> None:
    """Put the file in WAL mode, waiting up to ``within`` seconds for another connection.

    SQLite answers this pragma "database is locked" at once, without its busy handler, while
    another connection is opening the same new file: two processes starting together (a
    restart overlapping its predecessor, ``python -m bot check``) failed one time in six.
    """
    deadline = time.monotonic() + within
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(0.01)


def _private(path: str) -> None:
    """Create the file readable and writable by its owner only (0600), or narrow an existing
    one (and its ``-wal``/``-shm``) to that: it holds who stopped what, and a live stop's
    response URL. SQLite creates the ``-wal`` and ``-shm`` files with the database file's
    mode, so they follow it. A file this process may not narrow (another user's, shared with
    a group: it worked before) is used as it is, with one WARNING: refusing every stop for
    it would turn a hardening into an outage."""

    def narrow(file: int | str) -> int | None:
        """Narrow ``file`` to 0600; the mode it keeps if this process may not."""
        mode = stat.S_IMODE(os.stat(file).st_mode)
        if mode & 0o077:
            try:
                os.chmod(file, 0o600)
            except PermissionError:
                return mode
        return None

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            kept = narrow(fd)
        finally:
            os.close(fd)
        if kept is not None:  # its -wal and -shm take its owner and mode: one warning says it
            _warn_shared(path, kept)
            return
        for side in (path + "-wal", path + "-shm"):
            with contextlib.suppress(FileNotFoundError):
                if (kept := narrow(side)) is not None:
                    _warn_shared(side, kept)
    except OSError as exc:  # as sqlite3.connect would fail: the store's callers fail closed
        raise sqlite3.OperationalError(f"unable to open database file ({exc.strerror})") from exc


@functools.cache  # once per file and mode: the store opens a connection more than once
def _warn_shared(name: str, mode: int) -> None:
    log.warning(
        "%s has mode %04o, readable by others, and this process may not change it (not its "
        "owner): narrow it to 0600 (chmod 600, as its owner)",
        name,
        mode,
    )


def _roll_back(db: sqlite3.Connection) -> None:
    """Leave no transaction open on the long-lived loop connection after a failure."""
    if db.in_transaction:
        # if even this fails, the connection is unusable: the next call fails closed, and says so
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def _busy(exc: sqlite3.OperationalError) -> bool:
    """Another connection holds a lock (the low byte is the primary code of an extended one)."""
    return exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


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
        self._loop_db: sqlite3.Connection | None = None  # used on the event loop only
        self._thread_db: sqlite3.Connection | None = None  # used in the thread only
        self._opening = asyncio.Lock()
        self._calls_since_checkpoint = 0
        self._checkpoint: asyncio.Future[None] | None = None
        self._checkpointed = False  # the next write restarts the WAL, which syncs: in the thread
        # A call the thread is running for the loop: it holds (or waits for) the write lock,
        # so the loop's next calls wait for it instead of failing busy and queueing behind it
        # in the thread one by one (a tail of 170 ms under a burst: bench/burst.py).
        self._thread_call: asyncio.Future[Any] | None = None
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

        await self._run("prune", work)

    def _forget_finished(self, db: sqlite3.Connection) -> None:
        forget_before = time.time() - self._keep_finished
        db.execute(
            "DELETE FROM journal WHERE finished_at > 0 AND finished_at < ?", (forget_before,)
        )

    async def ping(self) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute("SELECT count(*) FROM journal").fetchone()

        # a read needs no write lock (WAL): /healthz must not wait for a writer
        await self._run("ping", work, writes=False)

    async def caveats(self) -> list[str]:
        return []  # one host's file and clock: nothing to agree with

    async def aclose(self) -> None:
        def close() -> None:  # closing may checkpoint, so in the thread
            for db in (self._loop_db, self._thread_db):
                if db is not None:
                    db.close()
            self._loop_db = self._thread_db = None

        if self._closed:
            return
        self._closed = True
        if self._checkpoint is not None:
            self._checkpoint.cancel()
        await asyncio.get_running_loop().run_in_executor(self._thread, close)
        self._thread.shutdown(wait=False)

    async def _run(
        self, operation: str, work: Callable[[sqlite3.Connection], T], *, writes: bool = True
    ) -> T:
        """Run ``work`` on the loop's connection, or in the thread if another process holds
        the file's write lock; every failure becomes StoreUnavailable, counted. ``writes``:
        False for work that only reads, which never waits for a writer."""
        try:
            db = self._loop_db or await self._open_for_loop()
            while writes and self._thread_call is not None:
                await asyncio.wait([self._thread_call])
            if self._closed:  # checked after every wait: aclose may have come meanwhile
                raise StoreUnavailable("store closed")
            if writes and self._checkpointed:
                self._checkpointed = False
                STORE_WAITS.labels("after_checkpoint").inc()
                try:
                    result = await self._for_loop_in_thread(work)
                except BaseException:
                    self._checkpointed = True  # the WAL was not restarted: the next one does
                    raise
            else:
                try:
                    result = work(db)
                except sqlite3.Error as exc:
                    _roll_back(db)
                    if not (isinstance(exc, sqlite3.OperationalError) and _busy(exc)):
                        raise
                    # rolled back: ``work`` runs whole, where it may wait for the lock
                    STORE_WAITS.labels("another_writer").inc()
                    result = await self._for_loop_in_thread(work)
            self._checkpoint_now_and_then()
            return result
        except (StoreUnavailable, RuntimeError) as exc:  # RuntimeError: the thread shut down
            STORE_ERRORS.labels(operation).inc()
            raise StoreUnavailable(f"SQLite {operation} on {self._path}: {exc}") from exc
        except sqlite3.Error as exc:
            STORE_ERRORS.labels(operation).inc()
            raise StoreUnavailable(f"SQLite {operation} on {self._path}: {exc}") from exc

    async def _open_for_loop(self) -> sqlite3.Connection:
        async with self._opening:
            if self._closed:
                raise StoreUnavailable("store closed")
            if self._loop_db is None:
                db = await asyncio.get_running_loop().run_in_executor(self._thread, self._open_both)
                if self._closed:  # closed while it opened
                    db.close()
                    raise StoreUnavailable("store closed")
                self._loop_db = db
            return self._loop_db

    async def _for_loop_in_thread(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """A loop call the thread runs; the loop's calls wait until it is over. Over means
        the thread is done with it: a caller cancelled meanwhile does not stop the thread, so
        the call stays in the way (shielded) until the thread lets go of the lock."""
        call = asyncio.ensure_future(self._in_thread(work))
        self._thread_call = call

        def over(_: object) -> None:
            if self._thread_call is call:
                self._thread_call = None
            if not call.cancelled():
                call.exception()  # a cancelled caller's failure is not "never retrieved"

        call.add_done_callback(over)
        return await asyncio.shield(call)

    def _open_both(self) -> sqlite3.Connection:
        """In the thread: its own connection first (opening writes the schema, which a loop
        write must not run into later), then the loop's, which it returns."""
        if self._thread_db is None:
            self._thread_db = self._open()
        return self._open(for_loop=True)

    async def _in_thread(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            if self._closed:  # queued behind aclose's close()
                raise StoreUnavailable("store closed")
            if self._thread_db is None:
                self._thread_db = self._open()
            return work(self._thread_db)

        return await asyncio.get_running_loop().run_in_executor(self._thread, run)

    def _checkpoint_now_and_then(self) -> None:
        """Every CHECKPOINT_EVERY calls, fold the WAL into the file, in the thread. PASSIVE:
        it never waits for, or holds up, a writer."""
        self._calls_since_checkpoint += 1
        if (
            self._calls_since_checkpoint < CHECKPOINT_EVERY
            or self._checkpoint is not None
            or self._closed
        ):
            return
        self._calls_since_checkpoint = 0

        def checkpoint(db: sqlite3.Connection) -> None:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

        def done(future: asyncio.Future[None]) -> None:
            self._checkpoint = None
            if future.cancelled():
                return
            if future.exception() is not None:
                STORE_ERRORS.labels("checkpoint").inc()
            else:
                self._checkpointed = True

        self._checkpoint = asyncio.ensure_future(self._in_thread(checkpoint))
        self._checkpoint.add_done_callback(done)

    def _open(self, for_loop: bool = False) -> sqlite3.Connection:
        """Open (creating) the file and bring its schema up to this JournalEntry. The loop's
        connection is used from the loop's thread after this one opens it; it never waits
        for a lock and never checkpoints."""
        _private(self._path)
        db = sqlite3.connect(
            self._path,
            timeout=self._busy_timeout,
            isolation_level=None,
            check_same_thread=not for_loop,
        )
        try:
            _switch_to_wal(db, self._busy_timeout)
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
            if for_loop:
                db.execute("PRAGMA busy_timeout = 0")
                db.execute("PRAGMA wal_autocheckpoint = 0")
        except BaseException:
            db.close()
            raise
        return db
