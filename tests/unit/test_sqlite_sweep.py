"""The SQLite store deletes expired items itself (DynamoDB's TTL does it on AWS)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hubbub.ids import ClientMsgId, MessageId, Topic, UserId
from hubbub.store.port import AppendRequest
from hubbub.store.sqlite.adapter import SqliteStore

HOUR_MS = 3600 * 1000


def request(topic: str, n: int, now_ms: int, ttl_s: int) -> AppendRequest:
    return AppendRequest(
        topic=Topic(topic),
        sender=UserId("v_1"),
        nickname="v",
        text=f"m{n}",
        client_msg_id=ClientMsgId(f"c{n}"),
        message_id=MessageId(f"m{n}"),
        now_ms=now_ms,
        expires_at=now_ms // 1000 + ttl_s,
        dedupe_expires_at=now_ms // 1000 + ttl_s,
    )


def rows(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_expired_messages_are_swept_by_later_writes_and_seq_keeps_counting(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    store = SqliteStore(path)
    start = 1_800_000_000_000
    for n in range(3):
        store.append(request("room/a", n, start, ttl_s=3600))
    assert rows(path, "messages") == 3

    later = store.append(request("room/a", 3, start + 2 * HOUR_MS, ttl_s=3600))
    assert later.message.seq == 4, "a topic's seq never restarts after its messages expire"
    assert rows(path, "messages") == 1
    assert rows(path, "dedupe") == 1
    store.close()


def test_a_sweep_is_bounded_and_runs_at_most_once_a_minute(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    store = SqliteStore(path)
    start = 1_800_000_000_000
    for n in range(10):
        store.append(request("room/b", n, start, ttl_s=60))
    assert store.sweep(start + HOUR_MS, batch=4) >= 4
    assert rows(path, "messages") == 6
    store.append(request("room/b", 10, start + HOUR_MS + 1, ttl_s=60))
    assert rows(path, "messages") == 7, "the last sweep was under a minute ago"
    store.close()


def test_swept_subscriptions_leave_the_head_count(tmp_path: Path) -> None:
    """Expired subscriptions (a $disconnect that never came) are taken off the topic's head
    count as they are swept, so a large room's size does not drift up locally."""
    from hubbub.ids import ConnectionId, TopicFilter
    from hubbub.store.port import Role, Subscription, User

    store = SqliteStore(tmp_path / "t.sqlite3")
    start = 1_800_000_000_000
    user = User(UserId("v_1"), Role.VISITOR, "v")
    for n, ttl_s in enumerate((60, 60, 7200)):
        sub = Subscription(ConnectionId(f"c{n}"), TopicFilter("room/a"), user)
        store.subscribe(sub, start, start // 1000 + ttl_s)
    assert store.member_count(Topic("room/a")) == 3
    store.sweep(start + 120_000)
    assert store.member_count(Topic("room/a")) == 1
    store.close()


def test_an_older_data_dir_counts_its_subscriptions_once(tmp_path: Path) -> None:
    """A data dir from before the head counts gets them counted when the store opens."""
    from hubbub.ids import ConnectionId, TopicFilter
    from hubbub.store.port import Role, Subscription, User

    path = tmp_path / "t.sqlite3"
    store = SqliteStore(path)
    user = User(UserId("v_1"), Role.VISITOR, "v")
    for n in range(4):
        sub = Subscription(ConnectionId(f"c{n}"), TopicFilter("room/a"), user)
        store.subscribe(sub, 0, 2**40)
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM headcounts")
    again = SqliteStore(path)
    assert again.member_count(Topic("room/a")) == 4
    again.close()
    third = SqliteStore(path)
    assert third.member_count(Topic("room/a")) == 4, "and never twice"
    third.close()
