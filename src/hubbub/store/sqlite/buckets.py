"""The rate limiter's buckets in SQLite: one row per key, read and written in one transaction.

``BEGIN IMMEDIATE`` serialises the workers (execution environments) on the file, so the limit
holds across them as the conditional writes make it hold on DynamoDB.
"""

from __future__ import annotations

import sqlite3
from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager

from hubbub.store.buckets import Rate, take
from hubbub.store.roles import RateBuckets

__all__ = ["BUCKETS_SCHEMA", "SqliteBuckets", "take_token", "take_tokens"]

BUCKETS_SCHEMA = """
CREATE TABLE IF NOT EXISTS rate_buckets (
    bucket TEXT PRIMARY KEY,
    tat_us INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rate_buckets_by_expiry ON rate_buckets (expires_at);
"""


def take_token(db: sqlite3.Connection, bucket: str, rate: Rate, now_ms: int) -> int:
    """Inside a write transaction: 0 when a token was taken, else microseconds to wait."""
    row = db.execute("SELECT tat_us FROM rate_buckets WHERE bucket = ?", (bucket,)).fetchone()
    decided = take(None if row is None else int(row[0]), now_ms * 1000, rate)
    if not decided.allowed:
        return decided.wait_us
    db.execute(
        "INSERT INTO rate_buckets (bucket, tat_us, expires_at) VALUES (?, ?, ?)"
        " ON CONFLICT (bucket) DO UPDATE SET tat_us = excluded.tat_us,"
        " expires_at = excluded.expires_at",
        (bucket, decided.tat_us, -(-decided.tat_us // 1_000_000) + 1),
    )
    return 0


def take_tokens(
    db: sqlite3.Connection, takes: Sequence[tuple[str, Rate]], now_ms: int
) -> tuple[int, int]:
    """``RateBuckets.take_tokens`` inside the caller's one write transaction."""
    for index, (bucket, rate) in enumerate(takes):
        wait_us = take_token(db, bucket, rate, now_ms)
        if wait_us:
            return index, wait_us
    return len(takes), 0


class SqliteBuckets(RateBuckets):
    """The ``RateBuckets`` role of the SQLite store, each call one write transaction."""

    @abstractmethod
    def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def take_token(self, bucket: str, rate: Rate, now_ms: int) -> int:
        with self._write() as db:
            return take_token(db, bucket, rate, now_ms)

    def take_tokens(self, takes: Sequence[tuple[str, Rate]], now_ms: int) -> tuple[int, int]:
        with self._write() as db:
            return take_tokens(db, takes, now_ms)
