"""Tables of the SQLite store. They mirror the DynamoDB items of DESIGN §6 one table per item
kind."""

from __future__ import annotations

from hubbub import streamlog

__all__ = ["SCHEMA"]

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS connections (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    nickname TEXT,
    connected_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
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

CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"""
    + streamlog.SCHEMA
)
