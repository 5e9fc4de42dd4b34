"""The on-disk form of a local DynamoDB stream: a ``stream_log`` table inside the table's SQLite
file.

The SQLite store appends to it in the same transaction as the data it describes (a transactional
outbox), and the runtime's stream poller reads it to build DynamoDB Streams records. Living in one
neutral module keeps the two sides agreeing on the format without either importing the other.
Images are stored already in DynamoDB JSON, exactly as a stream record carries them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SCHEMA",
    "LogEntry",
    "append",
    "read_after",
    "to_attribute_map",
    "to_attribute_value",
    "trim",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS stream_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_name TEXT NOT NULL CHECK (event_name IN ('INSERT', 'MODIFY', 'REMOVE')),
    keys TEXT NOT NULL,
    new_image TEXT,
    old_image TEXT,
    created_ms INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class LogEntry:
    seq: int
    event_name: str
    keys: dict[str, Any]
    new_image: dict[str, Any] | None
    old_image: dict[str, Any] | None
    created_ms: int
    size_bytes: int
    user_identity: Mapping[str, str] | None = None
    """Who made the change when it was DynamoDB itself: a TTL deletion
    (``runtime/dynamodb/ttl.py``)."""


def to_attribute_value(value: Any) -> dict[str, Any]:
    """Plain Python -> DynamoDB JSON for the types our items use."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, Mapping):
        return {"M": to_attribute_map(value)}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute_value(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__} in a stream image")


def to_attribute_map(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: to_attribute_value(val) for key, val in item.items()}


def append(
    conn: sqlite3.Connection,
    event_name: str,
    item: Mapping[str, Any],
    now_ms: int,
    *,
    old_item: Mapping[str, Any] | None = None,
) -> None:
    """Append one change; the caller owns the transaction so data and log commit together."""
    keys = {"pk": item["pk"], "sk": item["sk"]}
    new_image = None if event_name == "REMOVE" else json.dumps(to_attribute_map(item))
    old_image = None if old_item is None else json.dumps(to_attribute_map(old_item))
    conn.execute(
        "INSERT INTO stream_log (event_name, keys, new_image, old_image, created_ms)"
        " VALUES (?, ?, ?, ?, ?)",
        (event_name, json.dumps(to_attribute_map(keys)), new_image, old_image, now_ms),
    )


def read_after(conn: sqlite3.Connection, after_seq: int, limit: int) -> list[LogEntry]:
    rows = conn.execute(
        "SELECT seq, event_name, keys, new_image, old_image, created_ms FROM stream_log"
        " WHERE seq > ? ORDER BY seq LIMIT ?",
        (after_seq, limit),
    ).fetchall()
    return [
        LogEntry(
            seq=row[0],
            event_name=row[1],
            keys=json.loads(row[2]),
            new_image=None if row[3] is None else json.loads(row[3]),
            old_image=None if row[4] is None else json.loads(row[4]),
            created_ms=row[5],
            size_bytes=len(row[2]) + len(row[3] or "") + len(row[4] or ""),
        )
        for row in rows
    ]


def trim(conn: sqlite3.Connection, before_ms: int) -> int:
    """Drop entries older than the stream's retention (24 h on DynamoDB)."""
    cur = conn.execute("DELETE FROM stream_log WHERE created_ms < ?", (before_ms,))
    return cur.rowcount
