"""Pending emails to visitors who left, and their opt-outs, on SQLite.

One row per desk conversation (``mailings``), whose ``due_at`` is NULL unless a mail is
pending (the partial index then holds only pending rows, as the sparse index does on DynamoDB),
and one row per visitor who unsubscribed. ``SqliteStore`` takes these methods from
``SqliteMailings``, which needs only its ``_write`` and ``_read``.
"""

from __future__ import annotations

import sqlite3
from abc import abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from hubbub.ids import Topic, UserId
from hubbub.store.records import PendingMail
from hubbub.store.roles import Mailings

__all__ = ["MAILINGS_SCHEMA", "SqliteMailings"]

T = TypeVar("T")

MAILINGS_SCHEMA = """
CREATE TABLE IF NOT EXISTS mailings (
    topic TEXT PRIMARY KEY,
    visitor_id TEXT NOT NULL,
    answer_seq INTEGER NOT NULL,
    mailed_seq INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER,
    last_sent_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mailings_due ON mailings (due_at) WHERE due_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS mail_opt_outs (
    visitor_id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
"""

_COLUMNS = "topic, visitor_id, due_at, answer_seq, mailed_seq, last_sent_at"


def _pending(row: Any) -> PendingMail:
    return PendingMail(
        topic=Topic(row[0]),
        visitor_id=UserId(row[1]),
        due_at=int(row[2]),
        answer_seq=int(row[3]),
        mailed_seq=int(row[4]),
        last_sent_at=None if row[5] is None else int(row[5]),
    )


class SqliteMailings(Mailings):
    @abstractmethod
    def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...

    @abstractmethod
    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    def queue_mail(self, topic: Topic, visitor_id: UserId, answer_seq: int, due_at: int) -> bool:
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO mailings (topic, visitor_id, answer_seq, due_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (topic) DO UPDATE SET answer_seq = excluded.answer_seq,"
                " visitor_id = excluded.visitor_id, due_at = coalesce(due_at, excluded.due_at)"
                " WHERE answer_seq < excluded.answer_seq AND mailed_seq < excluded.answer_seq",
                (topic, visitor_id, answer_seq, due_at),
            )
            return cursor.rowcount > 0

    def due_mails(self, now_ms: int, limit: int) -> list[PendingMail]:
        rows = self._read(
            lambda db: db.execute(
                f"SELECT {_COLUMNS} FROM mailings WHERE due_at IS NOT NULL AND due_at <= ?"
                " ORDER BY due_at, topic LIMIT ?",
                (now_ms, limit),
            ).fetchall()
        )
        return [_pending(row) for row in rows]

    def claim_mail(self, topic: Topic, due_at: int, until: int) -> bool:
        with self._write() as db:
            cursor = db.execute(
                "UPDATE mailings SET due_at = ? WHERE topic = ? AND due_at = ?",
                (until, topic, due_at),
            )
            return cursor.rowcount > 0

    def finish_mail(
        self, topic: Topic, mailed_seq: int, sent_at: int | None, next_due_at: int
    ) -> PendingMail | None:
        with self._write() as db:
            db.execute(
                "UPDATE mailings SET mailed_seq = max(mailed_seq, ?),"
                " last_sent_at = coalesce(?, last_sent_at),"
                " due_at = CASE WHEN answer_seq > max(mailed_seq, ?) THEN ? END"
                " WHERE topic = ?",
                (mailed_seq, sent_at, mailed_seq, next_due_at, topic),
            )
            row = db.execute(
                f"SELECT {_COLUMNS} FROM mailings WHERE topic = ? AND due_at IS NOT NULL",
                (topic,),
            ).fetchone()
        return None if row is None else _pending(row)

    def opt_out(self, visitor_id: UserId, now_ms: int) -> bool:
        with self._write() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO mail_opt_outs (visitor_id, created_at) VALUES (?, ?)",
                (visitor_id, now_ms),
            )
            return cursor.rowcount > 0

    def opted_out(self, visitor_id: UserId) -> bool:
        row = self._read(
            lambda db: db.execute(
                "SELECT 1 FROM mail_opt_outs WHERE visitor_id = ?", (visitor_id,)
            ).fetchone()
        )
        return row is not None
