"""The runtime's own durable state: stream checkpoints, the open tumbling windows' states and
the dead-letter table (the local on-failure destination), in ``runtime.sqlite3`` of the data dir.

Stream positions are Python ints of any size: DynamoDB sequence numbers (22 digits in moto, up to
40 on AWS) do not fit SQLite's 64-bit integers, so a position that does not is stored as the
BLOB of its decimal digits (BLOBs are never converted by column affinity) and read back as an int.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubbub.runtime.dynamodb.lanes import family_of
from hubbub.runtime.dynamodb.walcheckpoint import WalCheckpointer

__all__ = ["DeadLetter", "RuntimeState"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    mapping TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS stream_sources (
    mapping TEXT PRIMARY KEY,
    source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS windows (
    mapping TEXT PRIMARY KEY,
    start_ms INTEGER NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    mapping TEXT NOT NULL,
    seq INTEGER NOT NULL,
    reason TEXT NOT NULL,
    record TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    replayed_ms INTEGER
);
"""


_INT64_MAX = 2**63 - 1


def _encode_position(position: int) -> int | bytes:
    if -_INT64_MAX - 1 <= position <= _INT64_MAX:
        return position
    return str(position).encode("ascii")


def _decode_position(value: Any) -> int:
    return int(value.decode("ascii")) if isinstance(value, bytes) else int(value)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    mapping: str
    seq: int
    reason: str
    record: dict[str, Any]
    created_ms: int
    replayed_ms: int | None


class RuntimeState:
    def __init__(self, path: Path, *, checkpoint_in_thread: bool = False) -> None:
        """``checkpoint_in_thread``: the WAL is checkpointed by a thread of its own, not by the
        commit that crosses 1,000 pages. The pollers save their positions on the event loop, and
        such a commit would wait there for the checkpoint's fsyncs (finding 8 of
        docs/benchmarks.md)."""
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._checkpointer: WalCheckpointer | None = None
        if checkpoint_in_thread:
            self._db.execute("PRAGMA synchronous=OFF")
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = WalCheckpointer([path])
        else:
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        if self._checkpointer is not None:
            self._checkpointer.start()

    def checkpoint(self, mapping: str) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT seq FROM checkpoints WHERE mapping = ?", (mapping,)
            ).fetchone()
        return None if row is None else _decode_position(row[0])

    def save_checkpoint(self, mapping: str, seq: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO checkpoints (mapping, seq) VALUES (?, ?)"
                " ON CONFLICT (mapping) DO UPDATE SET seq = excluded.seq",
                (mapping, _encode_position(seq)),
            )

    def checkpoints_of(self, mapping: str) -> dict[str, int]:
        """The checkpoints of ``mapping``: its own, or its lanes' (``dynamodb/lanes.py``)."""
        with self._lock:
            return self._family(mapping)

    def _family(self, mapping: str) -> dict[str, int]:
        """``checkpoints_of``, the lock held by the caller."""
        rows = self._db.execute("SELECT mapping, seq FROM checkpoints").fetchall()
        return {name: _decode_position(seq) for name, seq in rows if family_of(mapping, name)}

    def forget_checkpoint(self, name: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM checkpoints WHERE mapping = ?", (name,))

    def window(self, name: str) -> tuple[int, dict[str, Any]] | None:
        """The open tumbling window of mapping (or lane) ``name``: its start and state."""
        with self._lock:
            row = self._db.execute(
                "SELECT start_ms, state FROM windows WHERE mapping = ?", (name,)
            ).fetchone()
        return None if row is None else (int(row[0]), json.loads(row[1]))

    def save_window(self, name: str, start_ms: int, state: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO windows (mapping, start_ms, state) VALUES (?, ?, ?)"
                " ON CONFLICT (mapping) DO UPDATE SET start_ms = excluded.start_ms,"
                " state = excluded.state",
                (name, start_ms, json.dumps(state)),
            )

    def close_window(self, name: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM windows WHERE mapping = ?", (name,))

    def use_source(self, mapping: str, source: str) -> bool:
        """Record which stream a mapping reads. When it read another stream before (a table
        created anew, say), its checkpoints and open tumbling windows (its lanes' too) are
        dropped: old positions and states mean nothing on the new stream. True when that
        happened. A mapping seen for the first time
        keeps its checkpoint.
        """
        with self._lock:
            row = self._db.execute(
                "SELECT source FROM stream_sources WHERE mapping = ?", (mapping,)
            ).fetchone()
            if row is not None and row[0] == source:
                return False
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO stream_sources (mapping, source) VALUES (?, ?)"
                    " ON CONFLICT (mapping) DO UPDATE SET source = excluded.source",
                    (mapping, source),
                )
                if row is not None:
                    for name in self._family(mapping):
                        self._db.execute("DELETE FROM checkpoints WHERE mapping = ?", (name,))
                        self._db.execute("DELETE FROM windows WHERE mapping = ?", (name,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return row is not None

    def dead_letter(
        self, mapping: str, seq: int, reason: str, record: dict[str, Any], now_ms: int
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO dead_letters (mapping, seq, reason, record, created_ms)"
                " VALUES (?, ?, ?, ?, ?)",
                (mapping, _encode_position(seq), reason, json.dumps(record), now_ms),
            )

    def dead_letters(self, mapping: str | None = None) -> list[DeadLetter]:
        query = "SELECT id, mapping, seq, reason, record, created_ms, replayed_ms FROM dead_letters"
        args: tuple[Any, ...] = ()
        if mapping is not None:
            query += " WHERE mapping = ?"
            args = (mapping,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY id", args).fetchall()
        return [
            DeadLetter(r[0], r[1], _decode_position(r[2]), r[3], json.loads(r[4]), r[5], r[6])
            for r in rows
        ]

    def mark_replayed(self, letter_id: int, now_ms: int) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE dead_letters SET replayed_ms = ? WHERE id = ?", (now_ms, letter_id)
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
        if self._checkpointer is not None:
            self._checkpointer.stop()
