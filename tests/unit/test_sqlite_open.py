"""Several processes opening one fresh SQLite file at once, as the functions of a fresh
``hubbub serve`` do (a WebSocket ``$connect`` and an MQTT guest's presence function starting
together): every one of them must get a working store."""

from __future__ import annotations

import multiprocessing
import sqlite3
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from hubbub.store.sqlite.adapter import SqliteStore
from hubbub.store.sqlite.opening import is_busy, open_database, retry_pause

PROCESSES = 4
FILES = 60
"""Before the WAL switch was retried, about one fresh file in ten lost a process to
``database is locked`` with four openers: sixty files make a miss all but certain."""


def _open_each(paths: list[str], barrier: Barrier, errors: multiprocessing.Queue[str]) -> None:
    """Open a store on each fresh file, in step with the other processes (the barrier)."""
    for path in paths:
        barrier.wait(timeout=60)
        try:
            store = SqliteStore(path, synchronous="OFF", autocheckpoint=False)
            store.get_connection("probe")  # type: ignore[arg-type]
            store.close()
        except Exception as exc:  # reported to the test, which names them all
            errors.put(f"{Path(path).parent.name}: {type(exc).__name__}: {exc}")
    errors.put("done")


def test_processes_opening_a_fresh_file_at_once_all_get_a_store(tmp_path: Path) -> None:
    paths = [str(tmp_path / f"f{i}" / "hubbub.sqlite3") for i in range(FILES)]
    for path in paths:
        Path(path).parent.mkdir()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    errors: multiprocessing.Queue[str] = ctx.Queue()
    procs = [
        ctx.Process(target=_open_each, args=(paths, barrier, errors)) for _ in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    reported: list[str] = []
    finished = 0
    while finished < PROCESSES:
        line = errors.get(timeout=120)
        if line == "done":
            finished += 1
        else:
            reported.append(line)
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    assert reported == []


def test_a_file_another_connection_keeps_locked_is_refused_once_the_budget_is_spent(
    tmp_path: Path,
) -> None:
    """The retry is bounded by the busy timeout: a lock that is never released still ends in
    the store's typed refusal, not a hang (the clock here is a counter, so no real waiting)."""
    path = tmp_path / "hubbub.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, as a process mid-way through the switch
    ticks = iter(range(1000))
    pauses: list[float] = []
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        open_database(
            path,
            busy_timeout_ms=50,
            synchronous="NORMAL",
            autocheckpoint=True,
            clock=lambda: next(ticks) / 100,
            pause=pauses.append,
        )
    holder.execute("ROLLBACK")
    holder.close()
    assert 1 <= len(pauses) <= 5


def test_a_file_locked_for_a_while_is_opened_once_the_lock_goes(tmp_path: Path) -> None:
    path = tmp_path / "hubbub.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    pauses: list[float] = []

    def release_after_three(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 3:
            holder.execute("ROLLBACK")

    db = open_database(
        path,
        busy_timeout_ms=5000,
        synchronous="NORMAL",
        autocheckpoint=True,
        pause=release_after_three,
    )
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()
    holder.close()
    assert pauses == [0.001, 0.002, 0.004]


@pytest.mark.parametrize(
    ("attempt", "left_s", "expected"),
    [
        (0, 5.0, 0.001),
        (1, 5.0, 0.002),
        (5, 5.0, 0.032),
        (6, 5.0, 0.05),
        (30, 5.0, 0.05),
        (6, 0.01, 0.01),
        (0, 0.0, None),
        (3, -0.5, None),
    ],
)
def test_retry_pause(attempt: int, left_s: float, expected: float | None) -> None:
    assert retry_pause(attempt, left_s) == expected


def _refusal(code: int, message: str) -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError(message)
    exc.sqlite_errorcode = code
    return exc


@pytest.mark.parametrize(
    ("exc", "busy"),
    [
        (_refusal(sqlite3.SQLITE_BUSY, "database is locked"), True),
        (_refusal(sqlite3.SQLITE_BUSY | (2 << 8), "database is locked"), True),  # BUSY_SNAPSHOT
        (_refusal(sqlite3.SQLITE_LOCKED, "database table is locked"), True),
        (_refusal(sqlite3.SQLITE_IOERR, "disk I/O error"), False),
        (_refusal(sqlite3.SQLITE_ERROR, "no such table: x"), False),
        (sqlite3.OperationalError("database is locked"), True),
        (sqlite3.OperationalError("unable to open database file"), False),
    ],
)
def test_is_busy(exc: sqlite3.OperationalError, busy: bool) -> None:
    assert is_busy(exc) is busy
