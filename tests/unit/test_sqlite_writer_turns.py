"""Writers of one SQLite file queue on a kernel lock: the next one is let in the moment the
holder lets go, instead of sleeping in SQLite's busy handler (1, 2, 5, 10 ms and more)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from hubbub.ids import ConnectionId, UserId
from hubbub.store.port import Connection, Role, User
from hubbub.store.sqlite.adapter import SqliteStore
from hubbub.store.sqlite.writers import WriterTurns

GUEST = User(UserId("g_1"), Role.GUEST)


def _held_back_by(holder: WriterTurns, write: Callable[[], None]) -> float:
    """Run ``write`` on another thread while ``holder`` has the turn: it must not finish until
    the turn is let go. Returns the seconds from letting go to its end."""
    finished = threading.Event()
    ended: list[float] = []

    def run() -> None:
        write()
        ended.append(time.perf_counter())
        finished.set()

    with holder.turn():
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
        with second.turn():
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
