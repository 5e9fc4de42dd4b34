"""Checkpoints of the SQLite-backed tables' write-ahead logs, done by the runtime off the hot path.

SQLite checkpoints in whichever writer's commit takes the WAL past 1,000 pages, and with
``synchronous=NORMAL`` that checkpoint fsyncs the WAL and the database, and the next writer
fsyncs the WAL header when it starts the log over. On the 2-core machine of docs/benchmarks.md
those fsyncs took 1-60 ms inside a ``send`` (about one message in a hundred, so they *were* the
p99). Under ``hubbub serve`` the functions' store connections therefore neither checkpoint nor
fsync (``HUBBUB_SQLITE_CHECKPOINTS=runtime``: ``wal_autocheckpoint=0``, ``synchronous=OFF``) and
this thread runs a PASSIVE checkpoint with ``synchronous=NORMAL`` every ``interval_s``: the
database file is synced after every checkpoint, as before; a checkpoint never waits for a writer
and no writer waits for it; one with nothing to copy does no I/O.

What a power cut can lose is unchanged in kind (the last commits, never the database's
consistency: frames after an unsynced WAL restart carry a salt the old header does not match,
so recovery ignores them); a ``kill -9`` of any process loses nothing, the OS holding the pages.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

__all__ = ["ENV", "WalCheckpointer"]

ENV = {"HUBBUB_SQLITE_CHECKPOINTS": "runtime"}
"""What the functions are told: the runtime checkpoints, so their connections must not."""

log = logging.getLogger("hubbub.streams")


class WalCheckpointer:
    """A daemon thread that checkpoints each database in ``paths`` once it exists."""

    def __init__(self, paths: Iterable[Path], interval_s: float = 0.5) -> None:
        self.paths = tuple(paths)
        self.interval_s = interval_s
        self.last: dict[Path, tuple[int, int, int]] = {}
        """Per database, SQLite's answer to the last checkpoint: (busy, WAL frames, frames
        copied into the database)."""
        self.checkpoints = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._dbs: dict[Path, sqlite3.Connection] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="wal-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after a last checkpoint, so a clean shutdown leaves the WAL copied in."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def run_once(self) -> None:
        for path in self.paths:
            db = self._connection(path)
            if db is None:
                continue
            try:
                row = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error as exc:  # a locked or vanished database: try again next time
                log.debug("checkpoint of %s failed: %s", path, exc)
                continue
            self.last[path] = (int(row[0]), int(row[1]), int(row[2]))
            self.checkpoints += 1

    def _connection(self, path: Path) -> sqlite3.Connection | None:
        db = self._dbs.get(path)
        if db is None and path.exists():  # the functions create it on their first write
            db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout=1000")
            db.execute("PRAGMA synchronous=NORMAL")
            self._dbs[path] = db
        return db

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval_s):
                self.run_once()
            self.run_once()
        finally:
            for db in self._dbs.values():
                db.close()
            self._dbs.clear()
