"""Writers of one SQLite file queue on a kernel lock: the next one is let in the moment the
holder lets go, instead of sleeping in SQLite's busy handler (1, 2, 5, 10 ms and more)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from hubbub.ids import ConnectionId, UserId
from hubbub.store.port import Connection, Role, User
from hubbub.store.sqlite.adapter import SqliteStore
from hubbub.store.sqlite.writers import WriterTurns

GUEST = User(UserId("g_1"), Role.GUEST)


def test_a_writer_waits_for_the_turn_and_gets_it_when_it_is_let_go(tmp_path: Path) -> None:
    database = str(tmp_path / "chat.sqlite3")
    first, second = WriterTurns(database), WriterTurns(database)  # two processes' descriptors
    entered = threading.Event()
    let_go_at: list[float] = []
    entered_at: list[float] = []

    def other_writer() -> None:
        with second.turn():
            entered_at.append(time.perf_counter())
            entered.set()

    try:
        with first.turn():
            thread = threading.Thread(target=other_writer)
            thread.start()
            assert not entered.wait(0.2), "the second writer got in while the first held it"
            let_go_at.append(time.perf_counter())
        assert entered.wait(5)
        thread.join(5)
    finally:
        first.close()
        second.close()
    assert entered_at[0] - let_go_at[0] < 0.05, "handed over at once, not after a sleep"
    assert Path(f"{database}-writers").stat().st_mode & 0o777 == 0o600


def test_the_store_takes_a_turn_for_each_write(tmp_path: Path) -> None:
    """A write waits for another process's turn: a store whose writers file is held cannot
    commit until it is let go."""
    database = tmp_path / "chat.sqlite3"
    store = SqliteStore(database)
    holder = WriterTurns(str(database))
    wrote = threading.Event()

    def write() -> None:
        store.put_connection(Connection(ConnectionId("c1"), GUEST, 1, 60))
        wrote.set()

    try:
        with holder.turn():
            thread = threading.Thread(target=write)
            thread.start()
            assert not wrote.wait(0.2), "the store wrote outside its turn"
        assert wrote.wait(5)
        thread.join(5)
        assert store.get_connection(ConnectionId("c1")) is not None
    finally:
        holder.close()
        store.close()
