"""The SQLite file itself, before the store uses it: private to its owner, in WAL mode.

Kept apart from :mod:`~bot.stopflow.store.sqlite` (the store's calls): what is decided here is
about the file on disk (its mode, its journal mode, another process opening it), not the state.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sqlite3
import stat
import time

log = logging.getLogger("bot.stopflow.store.sqlite")  # one logger for the store and its file


def _busy(exc: sqlite3.OperationalError) -> bool:
    """Another connection holds a lock (the low byte is the primary code of an extended one)."""
    return exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def switch_to_wal(db: sqlite3.Connection, within: float) -> None:
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


def private(path: str) -> None:
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
