"""Edits, deletes and sanctions on SQLite, each inside the caller's transaction.

An edit or a delete rewrites the message row and appends a ``MODIFY`` of the message item to
the stream log in the same transaction, which is what DynamoDB Streams carries for the
UpdateItem of the other adapter: the fan-out pushes ``edited``/``deleted`` from that record.
"""

from __future__ import annotations

import sqlite3

from hubbub import streamlog
from hubbub.ids import MessageId, Topic, UserId
from hubbub.store.items import message_item, revised
from hubbub.store.records import Message, Sanction, SanctionKind
from hubbub.store.sqlite.codec import MESSAGE_COLUMNS, message_of

__all__ = ["find_message", "list_sanctions", "revise", "sanctions_of", "sanctions_on"]

_SANCTION_COLUMNS = "topic, user_id, kind, until_ms, created_at"


def find_message(db: sqlite3.Connection, topic: Topic, seq: int, now_ms: int) -> Message | None:
    row = db.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE topic = ? AND seq = ? AND expires_at > ?",
        (topic, seq, now_ms // 1000),
    ).fetchone()
    return None if row is None else message_of(row)


def revise(
    db: sqlite3.Connection,
    topic: Topic,
    seq: int,
    message_id: MessageId,
    *,
    author: UserId | None,
    text: str | None,
    now_ms: int,
) -> Message | None:
    """Edit (``text``) or delete (``text`` None) the live message ``message_id`` at ``seq``, by
    ``author`` when one is given; None, with nothing written, when there is no such message."""
    current = find_message(db, topic, seq, now_ms)
    if current is None or current.id != message_id or current.deleted:
        return None
    if author is not None and current.sender != author:
        return None
    after = revised(current, text, now_ms)
    db.execute(
        "UPDATE messages SET text = ?, edited_at = ?, deleted = ?,"
        " attachments = CASE WHEN ? THEN NULL ELSE attachments END WHERE topic = ? AND seq = ?",
        (after.text, after.edited_at, 1 if after.deleted else 0, after.deleted, topic, seq),
    )
    streamlog.append(db, "MODIFY", message_item(after), now_ms)
    return after


def _sanction_of(row: tuple[object, ...]) -> Sanction:
    until = row[3]
    return Sanction(
        topic=Topic(str(row[0])),
        user_id=UserId(str(row[1])),
        kind=SanctionKind(str(row[2])),
        until_ms=None if until is None else int(str(until)),
        created_at=int(str(row[4])),
    )


def sanctions_on(
    db: sqlite3.Connection, topic: Topic, user_id: UserId, now_ms: int
) -> list[Sanction]:
    rows = db.execute(
        f"SELECT {_SANCTION_COLUMNS} FROM sanctions WHERE topic = ? AND user_id = ?"
        " AND (until_ms IS NULL OR until_ms > ?) ORDER BY kind",
        (topic, user_id, now_ms),
    ).fetchall()
    return [_sanction_of(row) for row in rows]


def sanctions_of(db: sqlite3.Connection, user_id: UserId, now_ms: int) -> list[Sanction]:
    rows = db.execute(
        f"SELECT {_SANCTION_COLUMNS} FROM sanctions WHERE user_id = ?"
        " AND (until_ms IS NULL OR until_ms > ?) ORDER BY topic, kind",
        (user_id, now_ms),
    ).fetchall()
    return [_sanction_of(row) for row in rows]


def list_sanctions(db: sqlite3.Connection, topic: Topic | None, now_ms: int) -> list[Sanction]:
    rows = db.execute(
        f"SELECT {_SANCTION_COLUMNS} FROM sanctions WHERE (? IS NULL OR topic = ?)"
        " AND (until_ms IS NULL OR until_ms > ?) ORDER BY topic, user_id, kind",
        (topic, topic, now_ms),
    ).fetchall()
    return [_sanction_of(row) for row in rows]
