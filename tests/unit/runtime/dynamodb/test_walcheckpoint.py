"""The runtime checkpoints the SQLite tables' WAL; the functions' connections never do.

A checkpoint (and the WAL restart after it) fsyncs, and SQLite runs it inside whichever commit
takes the WAL past 1,000 pages: a ``send`` that waited 10-100 ms for a disk. Under ``hubbub
serve`` the functions are told ``HUBBUB_SQLITE_CHECKPOINTS=runtime`` and the runtime's thread
copies the WAL into the database instead (SQLite: *Write-Ahead Logging*, "Checkpointing";
*PRAGMA synchronous*).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hubbub.handlers.bootstrap import _store
from hubbub.runtime.dynamodb.checkpoints import RuntimeState
from hubbub.runtime.dynamodb.walcheckpoint import ENV, WalCheckpointer
from hubbub.store.sqlite.adapter import SqliteStore
from tests.support.waiting import eventually


def _pragma(store: SqliteStore, name: str) -> int:
    return int(store._db.execute(f"PRAGMA {name}").fetchone()[0])


def _fill(path: Path, rows: int) -> None:
    """Commit ``rows`` transactions of a page each through a non-checkpointing writer."""
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE IF NOT EXISTS filler (x BLOB)")
    for _ in range(rows):
        db.execute("INSERT INTO filler VALUES (zeroblob(4000))")
    db.close()


@pytest.mark.parametrize(
    ("env", "synchronous", "autocheckpoint"),
    [
        ({}, 1, 1000),  # alone (tests, tools): SQLite's defaults, NORMAL and 1,000 pages
        (ENV, 0, 0),  # under hubbub serve: no fsync, no checkpoint in a function
    ],
)
def test_the_functions_store_checkpoints_only_when_nobody_else_does(
    tmp_path: Path, env: dict[str, str], synchronous: int, autocheckpoint: int
) -> None:
    store = _store({"HUBBUB_RUNTIME_DATA_DIR": str(tmp_path), "TABLE_NAME": "t", **env})
    assert isinstance(store, SqliteStore)
    assert _pragma(store, "synchronous") == synchronous
    assert _pragma(store, "wal_autocheckpoint") == autocheckpoint


def test_the_checkpointer_copies_the_wal_into_the_database(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    missing = tmp_path / "not-yet.sqlite3"
    checkpointer = WalCheckpointer([path, missing])
    SqliteStore(path)  # the database and its WAL exist
    _fill(path, 300)
    checkpointer.run_once()
    busy, frames, copied = checkpointer.last[path]
    assert busy == 0
    assert frames >= 300
    assert copied == frames, "every frame of the WAL is in the database"
    assert missing not in checkpointer.last, "a database nobody created yet is left alone"
    assert not missing.exists()


def test_the_thread_checkpoints_until_stopped_and_once_more_then(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    SqliteStore(path)
    checkpointer = WalCheckpointer([path], interval_s=3600)  # only the checkpoint at stop
    checkpointer.start()
    _fill(path, 50)
    checkpointer.stop()
    assert checkpointer.checkpoints == 1
    _, frames, copied = checkpointer.last[path]
    assert frames >= 50 and copied == frames


async def test_the_runtime_state_is_checkpointed_by_its_own_thread(tmp_path: Path) -> None:
    """The pollers save their positions on the event loop: that commit must not checkpoint."""
    path = tmp_path / "runtime.sqlite3"
    state = RuntimeState(path, checkpoint_in_thread=True)
    assert state._db.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    assert state._db.execute("PRAGMA synchronous").fetchone() == (0,)
    for seq in range(1, 200):
        state.save_checkpoint("m", seq)
    checkpointer = state._checkpointer
    assert checkpointer is not None

    def copied_in() -> tuple[int, int, int] | None:
        last = checkpointer.last.get(path)
        return last if last is not None and 0 < last[1] == last[2] else None

    await eventually(copied_in, what="the thread's checkpoint of the WAL")
    state.close()
    reopened = RuntimeState(path)
    assert reopened.checkpoint("m") == 199
    reopened.close()
