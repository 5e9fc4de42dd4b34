"""Opening the SQLite file: one connection per store, set up the same way by every process.

Under ``hubbub serve`` several functions start at once (a WebSocket ``$connect`` and an MQTT
guest's presence function, say) and each opens the same data file. On a fresh file the first of
them turns it into WAL, which rewrites the file's header: SQLite takes the write lock for that
while it already holds a read lock, and when another process holds the write lock at that moment
it answers ``SQLITE_BUSY`` at once, without calling the busy handler (it would deadlock otherwise,
https://www.sqlite.org/c3ref/busy_handler.html). ``busy_timeout`` therefore does not cover the
switch: it is retried here, within the same budget, until one process has made the file WAL (the
mode then lives in the file, https://www.sqlite.org/wal.html#persistence_of_wal_mode).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["is_busy", "open_database", "retry_pause"]

_FIRST_PAUSE_S = 0.001
_LONGEST_PAUSE_S = 0.05


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused for another connection's lock (worth another try), rather than
    for a fault in the file or the statement (not worth one)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def retry_pause(attempt: int, left_s: float) -> float | None:
    """How long to wait before try ``attempt + 1`` (doubling from 1 ms up to 50 ms, never past
    the budget); None once the budget is spent, so the last refusal is raised."""
    if left_s <= 0:
        return None
    return min(_FIRST_PAUSE_S * 2.0**attempt, _LONGEST_PAUSE_S, left_s)


def open_database(
    path: Path | str,
    *,
    busy_timeout_ms: int,
    synchronous: str,
    autocheckpoint: bool,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> sqlite3.Connection:
    """A connection in autocommit mode (writes say ``BEGIN IMMEDIATE`` themselves), in WAL,
    that waits ``busy_timeout_ms`` for other connections' locks."""
    db = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
    )
    try:
        _enter_wal(db, busy_timeout_ms / 1000, clock, pause)
        db.execute(f"PRAGMA synchronous={synchronous}")
        if not autocheckpoint:
            db.execute("PRAGMA wal_autocheckpoint=0")
        db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        db.execute("PRAGMA foreign_keys=OFF")
    except BaseException:
        db.close()
        raise
    return db


def _enter_wal(
    db: sqlite3.Connection,
    budget_s: float,
    clock: Callable[[], float],
    pause: Callable[[float], None],
) -> None:
    deadline = clock() + budget_s
    attempt = 0
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL").fetchall()
            return
        except sqlite3.OperationalError as exc:
            wait = retry_pause(attempt, deadline - clock()) if is_busy(exc) else None
            if wait is None:
                raise
        pause(wait)
        attempt += 1
