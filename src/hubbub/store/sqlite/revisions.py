"""Edits and deletes on SQLite, each inside the caller's transaction.

An edit or a delete rewrites the message row and appends a ``MODIFY`` of the message item to
the stream log in the same transaction, which is what DynamoDB Streams carries for the
UpdateItem of the other adapter: the fan-out pushes ``edited``/``deleted`` from that record.
"""

from __future__ import annotations

import sqlite3

from hubbub import streamlog
from hubbub.ids import MessageId, Topic, UserId
from hubbub.store.items import message_item, revised
from hubbub.store.records import Message
from hubbub.store.sqlite.codec import MESSAGE_COLUMNS, message_of

__all__ = ["find_message", "revise"]


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
