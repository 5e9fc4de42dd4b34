"""Writers of one SQLite file take turns through a lock the kernel hands over at once.

Every write runs in ``BEGIN IMMEDIATE``. When another process holds SQLite's write lock, the
waiting connection's busy handler sleeps and tries again, 1, 2, 5, 10, 15, 20, 25 ms and more
(SQLite's ``sqliteDefaultBusyCallback``), however soon the lock is free: the functions of
``hubbub serve`` are separate processes on one file, and under load a send's transaction found
the lock taken often enough that the message function spent a third of its time asleep in that
handler with the machine idle (docs/benchmarks.md, finding 21). An advisory ``flock`` on a file
beside the database queues the writers in the kernel instead, which wakes the next one the moment
the holder lets go, so SQLite's lock is free when each asks for it.

The wait is bounded like SQLite's: a turn not given within the budget (the store's busy timeout)
raises :class:`TurnNotGiven`, which the store reports as busy, so a writer that stopped inside a
transaction (a debugger, ``SIGSTOP``) makes the others fail as SQLite alone would have made them,
rather than hang. Linux has no timed ``flock``. An uncontended turn is taken at once
(``LOCK_NB``); a contended one is waited for in ``flock`` itself with a ``SIGALRM`` timer set
for the budget in the main thread, where a function's handler runs (nothing in hubbub uses that
signal), and on a helper thread elsewhere, which costs two thread hand-overs. Four processes
writing one file, 0.3 ms of other work between transactions, per transaction: 127-131 us of CPU
and 0.52-0.59 ms apart with the alarm; 106 us and 0.50-0.52 ms in an unbounded ``flock``;
161-173 us and 0.59-0.64 ms through the helper; 122 us and 0.83-0.86 ms in SQLite's busy
handler. A turn got after its caller gave up is handed straight back. The turn is only a queue
in front of SQLite's own lock, which still guards every transaction. A process that dies holding
it (``kill -9``) releases it with its descriptors. Where there is no ``fcntl`` (not POSIX),
writers fall back to SQLite's busy handler alone.
"""

from __future__ import annotations

import os
import signal
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["TurnNotGiven", "WriterTurns"]


class TurnNotGiven(TimeoutError):
    """Another writer held the turn for the whole budget."""


class WriterTurns:
    """The turn-taking of the writers of ``<database>``, through ``<database>-writers``."""

    def __init__(self, database: str, *, budget_s: float = 5.0) -> None:
        self.path = f"{database}-writers"
        self._budget_s = budget_s
        self._fd: int | None = None
        self._waiter: ThreadPoolExecutor | None = None
        self._waiter_lock = threading.Lock()
        if fcntl is not None and database != ":memory:":
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def take(self) -> None:
        """Wait for the turn, at most the budget; :class:`TurnNotGiven` past it."""
        if self._fd is None:
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        if threading.current_thread() is threading.main_thread():
            self._take_interruptibly(self._fd)
        else:
            self._take_on_helper(self._fd)

    def _take_interruptibly(self, fd: int) -> None:
        """Wait in ``flock`` until the turn comes or the alarm raises :class:`TurnNotGiven`
        out of it; whenever the alarm lands, the turn is not kept."""

        def expired(signum: int, frame: object) -> None:
            raise TurnNotGiven(f"another writer held the turn for {self._budget_s:g} s")

        previous = signal.signal(signal.SIGALRM, expired)
        try:
            try:
                signal.setitimer(signal.ITIMER_REAL, self._budget_s)
                fcntl.flock(fd, fcntl.LOCK_EX)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except TurnNotGiven:
            fcntl.flock(fd, fcntl.LOCK_UN)  # it may have come just as the alarm did
            raise
        finally:
            signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)

    def _take_on_helper(self, fd: int) -> None:
        waited = self._helper().submit(fcntl.flock, fd, fcntl.LOCK_EX)
        try:
            waited.result(timeout=self._budget_s)
        except FutureTimeout:
            waited.add_done_callback(self._hand_back)
            raise TurnNotGiven(f"another writer held the turn for {self._budget_s:g} s") from None

    def give_back(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _hand_back(self, waited: Future[None]) -> None:
        """The helper got the turn after its caller gave up on it: nobody is using it. A wait
        cancelled before it ran (``close`` while it was queued) got nothing to hand back."""
        if waited.cancelled() or waited.exception() is not None:
            return
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _helper(self) -> ThreadPoolExecutor:
        with self._waiter_lock:
            if self._waiter is None:
                self._waiter = ThreadPoolExecutor(1, thread_name_prefix="sqlite-turn")
            return self._waiter

    def close(self) -> None:
        if self._waiter is not None:
            self._waiter.shutdown(wait=False, cancel_futures=True)
            self._waiter = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
