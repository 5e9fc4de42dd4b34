"""Uploads on SQLite: one row per attachment uploaded, looked up by id when a send names it."""

from __future__ import annotations

import sqlite3

from hubbub.ids import Topic, UserId
from hubbub.store.records import Attachment, Upload

__all__ = ["UPLOADS_SCHEMA", "get_uploads", "put_upload"]

UPLOADS_SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    topic TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    key TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS uploads_by_expiry ON uploads (expires_at);
"""


def put_upload(db: sqlite3.Connection, upload: Upload) -> None:
    a = upload.attachment
    db.execute(
        "INSERT OR REPLACE INTO uploads (id, owner, topic, filename, content_type, size, key,"
        " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            a.id,
            upload.owner,
            upload.topic,
            a.filename,
            a.content_type,
            a.size,
            a.key,
            upload.created_at,
            upload.expires_at,
        ),
    )


def get_uploads(db: sqlite3.Connection, ids: list[str], now_ms: int) -> list[Upload]:
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    rows = db.execute(
        "SELECT id, owner, topic, filename, content_type, size, key, created_at, expires_at"
        f" FROM uploads WHERE id IN ({marks}) AND expires_at > ?",
        (*ids, now_ms // 1000),
    ).fetchall()
    return [
        Upload(
            Attachment(row[0], row[3], row[4], row[5], row[6]),
            owner=UserId(row[1]),
            topic=Topic(row[2]),
            created_at=row[7],
            expires_at=row[8],
        )
        for row in rows
    ]
