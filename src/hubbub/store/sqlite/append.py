"""The send path's one transaction on SQLite: the sender's and the room's rate-limit tokens,
dedupe, next gapless seq, the message (DESIGN §3).

The caller holds ``BEGIN IMMEDIATE``, so the head read here cannot change before the commit: the
seq is gapless without the optimistic retries DynamoDB needs. The message's stream record goes into
the outbox in the same transaction, in the image the DynamoDB adapter stores.
"""

from __future__ import annotations

import sqlite3

from hubbub import streamlog
from hubbub.store.items import message_item, new_message
from hubbub.store.records import AppendRequest, AppendResult, Message, TokensRefused
from hubbub.store.sqlite.buckets import take_tokens
from hubbub.store.sqlite.codec import MESSAGE_COLUMNS, message_of, message_row

__all__ = ["append", "raise_marker"]


def append(db: sqlite3.Connection, request: AppendRequest) -> AppendResult | TokensRefused:
    """``Store.append`` inside the caller's write transaction, its rate-limit takes first. A
    refused take is returned, not raised, so that the caller commits the takes before it."""
    taken, wait_us = take_tokens(db, request.takes, request.now_ms)
    if wait_us:
        return TokensRefused(taken, wait_us)
    original = _original_of(db, request)
    if original is not None:
        return AppendResult(original, duplicate=True)
    head = db.execute("SELECT last_seq FROM heads WHERE topic = ?", (request.topic,)).fetchone()
    message = new_message(request, (head[0] if head else 0) + 1)
    db.execute(
        f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        message_row(message),
    )
    db.execute(
        "INSERT OR REPLACE INTO dedupe (topic, sender, cmid, seq, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (
            request.topic,
            request.sender,
            request.client_msg_id,
            message.seq,
            request.dedupe_expires_at,
        ),
    )
    _advance_head(db, request, message.seq)
    streamlog.append(db, "INSERT", message_item(message), request.now_ms)
    if request.mark_read:  # one commit per send, not two
        raise_marker(db, request.sender, request.topic, message.seq)
    return AppendResult(message, duplicate=False)


def _original_of(db: sqlite3.Connection, request: AppendRequest) -> Message | None:
    """The message an unexpired dedupe record points at, if it is still stored (even expired);
    a record whose message the sweep removed dedupes nothing, and is replaced."""
    seen = db.execute(
        "SELECT seq FROM dedupe WHERE topic = ? AND sender = ? AND cmid = ? AND expires_at > ?",
        (request.topic, request.sender, request.client_msg_id, request.now_ms // 1000),
    ).fetchone()
    if seen is None:
        return None
    row = db.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE topic = ? AND seq = ?",
        (request.topic, seen[0]),
    ).fetchone()
    return None if row is None else message_of(row)


def _advance_head(db: sqlite3.Connection, request: AppendRequest, seq: int) -> None:
    """Move the topic's head to ``seq``; a None title keeps the old one."""
    db.execute(
        "INSERT INTO heads (topic, last_seq, updated_at, recency_index, title)"
        " VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (topic) DO UPDATE SET last_seq = excluded.last_seq,"
        " updated_at = excluded.updated_at, recency_index = excluded.recency_index,"
        " title = COALESCE(excluded.title, heads.title)",
        (request.topic, seq, request.now_ms, request.recency_index, request.title),
    )


def raise_marker(db: sqlite3.Connection, user_id: str, topic: str, seq: int) -> None:
    """Read markers only move forward."""
    db.execute(
        "INSERT INTO read_markers (user_id, topic, seq) VALUES (?, ?, ?)"
        " ON CONFLICT (user_id, topic) DO UPDATE SET seq = MAX(seq, excluded.seq)",
        (user_id, topic, seq),
    )
