"""Writers of one SQLite file queue on a kernel lock: the next one is let in the moment the
holder lets go, instead of sleeping in SQLite's busy handler (1, 2, 5, 10 ms and more), and
none waits longer than the store's busy timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hubbub.ids import ConnectionId, UserId
from hubbub.store.port import Connection, Role, StoreUnavailable, User
from hubbub.store.sqlite.adapter import SqliteStore
from hubbub.store.sqlite.writers import TurnNotGiven, WriterTurns

GUEST = User(UserId("g_1"), Role.GUEST)


@contextmanager
def _turn(turns: WriterTurns) -> Iterator[None]:
    turns.take()
    try:
        yield
    finally:
        turns.give_back()


def _held_back_by(holder: WriterTurns, write: Callable[[], None]) -> float:
    """Run ``write`` on another thread while ``holder`` has the turn: it must not finish until
    the turn is let go. Returns the seconds from letting go to its end."""
    finished = threading.Event()
    ended: list[float] = []

    def run() -> None:
        write()
        ended.append(time.perf_counter())
        finished.set()

    with _turn(holder):
        thread = threading.Thread(target=run)
        thread.start()
        assert not finished.wait(0.2), "the other writer went ahead while the turn was held"
        let_go = time.perf_counter()
    assert finished.wait(5)
    thread.join(5)
    return ended[0] - let_go


def test_a_writer_waits_for_the_turn_and_gets_it_when_it_is_let_go(tmp_path: Path) -> None:
    database = str(tmp_path / "chat.sqlite3")
    first, second = WriterTurns(database), WriterTurns(database)  # two processes' descriptors

    def take_turn() -> None:
        with _turn(second):
            pass

    try:
        handed_over_s = _held_back_by(first, take_turn)
    finally:
        first.close()
        second.close()
    assert handed_over_s < 0.05, "handed over at once, not after a sleep"
    assert Path(f"{database}-writers").stat().st_mode & 0o777 == 0o600


def test_the_store_takes_a_turn_for_each_write(tmp_path: Path) -> None:
    """A write waits for another process's turn: a store whose writers file is held cannot
    commit until it is let go."""
    database = tmp_path / "chat.sqlite3"
    store = SqliteStore(database)
    holder = WriterTurns(str(database))
    try:
        _held_back_by(
            holder, lambda: store.put_connection(Connection(ConnectionId("c1"), GUEST, 1, 60))
        )
        assert store.get_connection(ConnectionId("c1")) is not None
    finally:
        holder.close()
        store.close()


def test_a_turn_held_past_the_busy_timeout_is_a_busy_store_not_a_hang(tmp_path: Path) -> None:
    """A writer stopped inside a transaction (a debugger, SIGSTOP) fails the others after the
    store's busy timeout, as SQLite's own lock would; once it lets go, writes go through, and
    the turn the abandoned wait got late was handed back."""
    database = tmp_path / "chat.sqlite3"
    store = SqliteStore(database, busy_timeout_ms=300)
    holder, third = WriterTurns(str(database)), WriterTurns(str(database), budget_s=2)
    try:
        holder.take()
        started = time.perf_counter()
        with pytest.raises(StoreUnavailable, match="store busy"):
            store.put_connection(Connection(ConnectionId("c1"), GUEST, 1, 60))
        assert 0.25 < time.perf_counter() - started < 3
        holder.give_back()
        store.put_connection(Connection(ConnectionId("c2"), GUEST, 1, 60))
        assert store.get_connection(ConnectionId("c2")) is not None
        third.take()  # not kept by the helper that got the turn after its caller left
        third.give_back()
    finally:
        holder.close()
        third.close()
        store.close()


def test_an_uncontended_turn_needs_no_helper(tmp_path: Path) -> None:
    turns = WriterTurns(str(tmp_path / "chat.sqlite3"), budget_s=0.1)
    other = WriterTurns(str(tmp_path / "chat.sqlite3"), budget_s=0.1)
    try:
        for _ in range(3):
            with _turn(turns):
                pass
        assert turns._waiter is None, "taken at once, with no thread"
        with _turn(turns), pytest.raises(TurnNotGiven):
            other.take()
    finally:
        turns.close()
        other.close()


def test_off_the_main_thread_the_wait_is_bounded_too(tmp_path: Path) -> None:
    """Only the main thread can take ``SIGALRM``; another thread's wait goes through a helper
    and ends at the same budget."""
    database = tmp_path / "chat.sqlite3"
    store = SqliteStore(database, busy_timeout_ms=300)
    holder = WriterTurns(str(database))
    outcome: list[BaseException | None] = []

    def write() -> None:
        try:
            store.put_connection(Connection(ConnectionId("c1"), GUEST, 1, 60))
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    try:
        holder.take()
        thread = threading.Thread(target=write)
        thread.start()
        thread.join(5)
        assert isinstance(outcome[0], StoreUnavailable)
        holder.give_back()
        holder.take()  # the helper's late turn was handed back, not kept
        holder.give_back()
    finally:
        holder.close()
        store.close()


def test_a_wait_cancelled_before_it_ran_hands_nothing_back(tmp_path: Path) -> None:
    """``close`` cancels the helper's queued waits; the hand-back of a caller that had given up
    on one must then do nothing (``Future.exception`` would raise on a cancelled future)."""
    from concurrent.futures import Future

    turns = WriterTurns(str(tmp_path / "chat.sqlite3"))
    other = WriterTurns(str(tmp_path / "chat.sqlite3"), budget_s=0.1)
    cancelled: Future[None] = Future()
    assert cancelled.cancel()
    try:
        with _turn(turns):
            other._hand_back(cancelled)  # raised CancelledError before
            with pytest.raises(TurnNotGiven):
                other.take()  # and turns still holds its turn: nothing was let go
    finally:
        turns.close()
        other.close()
