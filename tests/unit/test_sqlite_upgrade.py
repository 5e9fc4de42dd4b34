"""A data directory made before messages recorded their sender's role opens, reads and grows."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from hubbub.ids import ConnectionId, Topic
from hubbub.store.port import Connection, Role
from hubbub.store.sqlite.adapter import SqliteStore
from hubbub.store.sqlite.schema import SCHEMA
from tests.unit.test_sqlite_sweep import request

OLD_SCHEMA = SCHEMA.replace(
    "    expires_at INTEGER NOT NULL,\n    role TEXT,\n"
    "    edited_at INTEGER,\n    deleted INTEGER NOT NULL DEFAULT 0,\n    attachments TEXT,\n",
    "    expires_at INTEGER NOT NULL,\n",
).replace(
    "    expires_at INTEGER NOT NULL,\n    client_id TEXT\n", "    expires_at INTEGER NOT NULL\n"
)
"""The tables as they were before messages had a role (or could be edited, deleted, or carry
attachments, or connections their MQTT client id)."""
NOW_MS = 1_800_000_000_000


def test_the_old_schema_really_lacks_the_column() -> None:
    assert "role TEXT,\n" in SCHEMA
    assert "role TEXT,\n" not in OLD_SCHEMA
    assert "edited_at" not in OLD_SCHEMA and "deleted INTEGER" not in OLD_SCHEMA
    assert "attachments TEXT" not in OLD_SCHEMA
    assert "client_id" in SCHEMA and "client_id" not in OLD_SCHEMA


def test_an_old_connection_reads_without_a_client_id_and_a_new_one_keeps_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "chat.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        db.execute("INSERT INTO connections VALUES ('c0', 'g_1', 'guest', NULL, 1, 2)")
    db.close()
    store = SqliteStore(path)
    try:
        old = store.get_connection(ConnectionId("c0"))
        assert old is not None and old.client_id is None
        member = Connection(ConnectionId("mqtt:1"), old.user, 3, 4, "paho-1")
        store.put_connection(member)
        assert store.get_connection(member.id) == member
    finally:
        store.close()


def test_an_old_store_gains_the_role_column_and_old_messages_read_as_visitor(
    tmp_path: Path,
) -> None:
    path = tmp_path / "chat.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        db.execute(
            "INSERT INTO messages VALUES ('room/a', 1, 'm0', ?, 'o_1', 'Olga', 'old', 'c0', ?)",
            (NOW_MS, NOW_MS // 1000 + 3600),
        )
        db.execute(
            "INSERT INTO heads (topic, last_seq, updated_at) VALUES ('room/a', 1, ?)", (NOW_MS,)
        )
    db.close()
    store = SqliteStore(path)
    try:
        store.append(replace(request("room/a", 1, NOW_MS, 3600), role=Role.OPERATOR))
        messages = store.read_after(Topic("room/a"), 0, 10, NOW_MS).messages
        assert [(m.text, m.role) for m in messages] == [
            ("old", Role.VISITOR),
            ("m1", Role.OPERATOR),
        ]
        assert [(m.edited_at, m.deleted) for m in messages] == [(None, False), (None, False)]
        old = messages[0]
        tombstone = store.delete_message(old.topic, old.seq, old.id, NOW_MS)
        assert tombstone is not None and tombstone.deleted, "the added columns take a rewrite"
        assert store.get_message(old.topic, old.seq, NOW_MS) == tombstone
    finally:
        store.close()
    SqliteStore(path).close()  # a second opening finds the column there and changes nothing
