"""The runtime's own durable state: stream checkpoints and the dead-letter table (the local
on-failure destination), in ``runtime.sqlite3`` of the data dir."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DeadLetter", "RuntimeState"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    mapping TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
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
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def checkpoint(self, mapping: str) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT seq FROM checkpoints WHERE mapping = ?", (mapping,)
            ).fetchone()
        return None if row is None else int(row[0])

    def save_checkpoint(self, mapping: str, seq: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO checkpoints (mapping, seq) VALUES (?, ?)"
                " ON CONFLICT (mapping) DO UPDATE SET seq = excluded.seq",
                (mapping, seq),
            )

    def dead_letter(
        self, mapping: str, seq: int, reason: str, record: dict[str, Any], now_ms: int
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO dead_letters (mapping, seq, reason, record, created_ms)"
                " VALUES (?, ?, ?, ?, ?)",
                (mapping, seq, reason, json.dumps(record), now_ms),
            )

    def dead_letters(self, mapping: str | None = None) -> list[DeadLetter]:
        query = "SELECT id, mapping, seq, reason, record, created_ms, replayed_ms FROM dead_letters"
        args: tuple[Any, ...] = ()
        if mapping is not None:
            query += " WHERE mapping = ?"
            args = (mapping,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY id", args).fetchall()
        return [DeadLetter(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows]

    def mark_replayed(self, letter_id: int, now_ms: int) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE dead_letters SET replayed_ms = ? WHERE id = ?", (now_ms, letter_id)
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
