"""Writers of one SQLite file take turns through a lock the kernel hands over at once.

Every write runs in ``BEGIN IMMEDIATE``. When another process holds SQLite's write lock, the
waiting connection's busy handler sleeps and tries again, 1, 2, 5, 10, 15, 20, 25 ms and more
(SQLite's ``sqliteDefaultBusyCallback``), however soon the lock is free: the functions of
``hubbub serve`` are separate processes on one file, and under load a send's transaction found
the lock taken often enough that the message function spent a third of its time asleep in that
handler with the machine idle (docs/benchmarks.md, finding 21). An advisory ``flock`` on a file
beside the database queues the writers in the kernel instead, which wakes the next one the moment
the holder lets go, so SQLite's lock is free when each asks for it. ``busy_timeout`` still bounds
a wait on writers that do not take the turn (the runtime's own bookkeeping), and a turn is held
for one transaction only, which nothing inside can prolong past that timeout; a process that
dies holding it (``kill -9``) releases it with its descriptors. Where there is no ``fcntl`` (not
POSIX), writers fall back to SQLite's busy handler alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["WriterTurns"]


class WriterTurns:
    """The turn-taking of the writers of ``<database>``, through ``<database>-writers``."""

    def __init__(self, database: str) -> None:
        self.path = f"{database}-writers"
        self._fd: int | None = None
        if fcntl is not None and database != ":memory:":
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    @contextmanager
    def turn(self) -> Iterator[None]:
        if self._fd is None:
            yield
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
