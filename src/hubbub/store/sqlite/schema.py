"""Tables of the SQLite store. They mirror the DynamoDB items of DESIGN §6 one table per item
kind."""

from __future__ import annotations

import sqlite3

from hubbub import streamlog
from hubbub.store.sqlite.uploads import UPLOADS_SCHEMA

__all__ = ["SCHEMA", "upgrade"]

_ADDED_COLUMNS = [
    ("messages", "role", "TEXT"),
    ("messages", "edited_at", "INTEGER"),
    ("messages", "deleted", "INTEGER NOT NULL DEFAULT 0"),
    ("messages", "attachments", "TEXT"),
    ("connections", "client_id", "TEXT"),
]
"""Columns added since a data directory may have been created: (table, column, type)."""


def upgrade(db: sqlite3.Connection) -> None:
    """Add the columns an older data directory lacks (``CREATE TABLE IF NOT EXISTS`` keeps an old
    table as it was). Workers open the store at once, so losing the race to add one is fine."""
    for table, column, kind in _ADDED_COLUMNS:
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column in present:
            continue
        try:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        except sqlite3.OperationalError as exc:
            if "duplicate column" not in str(exc):
                raise
    _count_existing_subscriptions(db)


def _count_existing_subscriptions(db: sqlite3.Connection) -> None:
    """A data directory from before the head counts has subscriptions and no counts: count them
    once (a store that has counts keeps them with every subscription write)."""
    if db.execute("SELECT 1 FROM headcounts LIMIT 1").fetchone() is not None:
        return
    db.execute(
        "INSERT OR IGNORE INTO headcounts (topic, members)"
        " SELECT filter, count(*) FROM subscriptions WHERE wildcard = 0 GROUP BY filter"
    )


SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS connections (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    nickname TEXT,
    connected_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    client_id TEXT
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS subscriptions (
    connection_id TEXT NOT NULL,
    filter TEXT NOT NULL,
    wildcard INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    nickname TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (connection_id, filter)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS subscriptions_by_filter ON subscriptions (filter, connection_id);
CREATE INDEX IF NOT EXISTS subscriptions_wildcards ON subscriptions (filter) WHERE wildcard = 1;

CREATE TABLE IF NOT EXISTS headcounts (
    topic TEXT PRIMARY KEY,
    members INTEGER NOT NULL,
    summary_at INTEGER
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS messages (
    topic TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    sender TEXT NOT NULL,
    nickname TEXT,
    text TEXT NOT NULL,
    cmid TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    role TEXT,
    edited_at INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0,
    attachments TEXT,
    PRIMARY KEY (topic, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_by_expiry ON messages (expires_at);

CREATE TABLE IF NOT EXISTS dedupe (
    topic TEXT NOT NULL,
    sender TEXT NOT NULL,
    cmid TEXT NOT NULL,
    seq INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (topic, sender, cmid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedupe_by_expiry ON dedupe (expires_at);

CREATE TABLE IF NOT EXISTS heads (
    topic TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    recency_index TEXT,
    title TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS heads_by_recency ON heads (recency_index, updated_at DESC, topic DESC)
    WHERE recency_index IS NOT NULL;
CREATE INDEX IF NOT EXISTS connections_by_role ON connections (role) WHERE role = 'operator';

CREATE TABLE IF NOT EXISTS read_markers (
    user_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (user_id, topic)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS visitors (
    id TEXT PRIMARY KEY,
    nickname TEXT NOT NULL,
    email TEXT,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS operators (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS sanctions (
    topic TEXT NOT NULL,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    until_ms INTEGER,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (topic, user_id, kind)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sanctions_by_user ON sanctions (user_id);

CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"""
    + UPLOADS_SCHEMA
    + streamlog.SCHEMA
)
