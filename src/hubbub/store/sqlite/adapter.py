"""The SQLite Store.

Durability: WAL with ``synchronous=NORMAL`` survives a ``kill -9`` of any process (the OS holds the
written pages); only a power cut can lose the last commits. Under ``hubbub serve`` the writers
(the functions) leave checkpoints, and so every fsync, to the runtime's checkpointer
(``runtime/dynamodb/walcheckpoint.py``): ``autocheckpoint=False`` and ``synchronous=OFF``.
Every write runs in ``BEGIN IMMEDIATE`` so concurrent workers serialise on SQLite's lock rather than
fail late at commit; a lock held past ``busy_timeout`` surfaces as ``StoreUnavailable``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from hubbub import streamlog
from hubbub.ids import ConnectionId, MessageId, Topic, TopicFilter, UserId
from hubbub.store.items import message_from_item
from hubbub.store.port import (
    AppendRequest,
    AppendResult,
    Connection,
    Message,
    MessagePage,
    Operator,
    Store,
    StoreUnavailable,
    Subscription,
    TokensRefused,
    TopicSummary,
    Upload,
    User,
    Visitor,
)
from hubbub.store.sqlite.append import append, raise_marker
from hubbub.store.sqlite.buckets import BUCKETS_SCHEMA, SqliteBuckets
from hubbub.store.sqlite.codec import (
    CONNECTION_COLUMNS,
    MESSAGE_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    connection_of,
    connection_row,
    message_of,
    subscription_of,
)
from hubbub.store.sqlite.mailings import MAILINGS_SCHEMA, SqliteMailings
from hubbub.store.sqlite.opening import open_database
from hubbub.store.sqlite.revisions import find_message, revise
from hubbub.store.sqlite.sanctions import SqliteSanctions
from hubbub.store.sqlite.schema import SCHEMA, upgrade
from hubbub.store.sqlite.uploads import get_uploads, put_upload
from hubbub.store.sqlite.writers import TurnNotGiven, WriterTurns

__all__ = ["SqliteStore"]

T = TypeVar("T")
_SWEEP_EVERY_MS = 60_000


class SqliteStore(SqliteMailings, SqliteBuckets, SqliteSanctions, Store):
    def __init__(
        self,
        path: Path | str,
        *,
        busy_timeout_ms: int = 5000,
        synchronous: str = "NORMAL",
        autocheckpoint: bool = True,
    ) -> None:
        """``autocheckpoint=False``: this connection never checkpoints the WAL, someone else
        must (SQLite's default checkpoints in whichever writer's commit crosses 1,000 pages)."""
        self._path = str(path)
        self._lock = threading.Lock()
        self._next_sweep_ms = 0
        try:
            self._db = open_database(
                path,
                busy_timeout_ms=busy_timeout_ms,
                synchronous=synchronous,
                autocheckpoint=autocheckpoint,
            )
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"store busy: {exc}") from exc
        self._turns = WriterTurns(self._path, budget_s=busy_timeout_ms / 1000)
        self._apply_schema()

    # plumbing ---------------------------------------------------------------------------------
    def _apply_schema(self) -> None:
        with self._lock:
            try:
                self._db.executescript(SCHEMA + BUCKETS_SCHEMA + MAILINGS_SCHEMA)
                upgrade(self._db)
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(str(exc)) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._turns.take()
            except TurnNotGiven as exc:
                raise StoreUnavailable(f"store busy: {exc}") from exc
            try:
                yield from self._transaction()
            finally:
                self._turns.give_back()

    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"store busy: {exc}") from exc
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._db.execute("ROLLBACK")
            raise StoreUnavailable(f"store busy: {exc}") from exc

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                return fn(self._db)
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"store busy: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._turns.close()

    # connections ------------------------------------------------------------------------------
    def put_connection(self, connection: Connection) -> None:
        with self._write() as db:
            db.execute(
                f"INSERT OR REPLACE INTO connections ({CONNECTION_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                connection_row(connection),
            )

    def get_connection(self, connection_id: ConnectionId) -> Connection | None:
        row = self._read(
            lambda db: db.execute(
                f"SELECT {CONNECTION_COLUMNS} FROM connections WHERE id = ?",
                (connection_id,),
            ).fetchone()
        )
        return None if row is None else connection_of(row)

    def set_connection_user(self, connection_id: ConnectionId, user: User) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE connections SET user_id = ?, role = ?, nickname = ? WHERE id = ?",
                (user.id, user.role.value, user.nickname, connection_id),
            )
            db.execute(
                "UPDATE subscriptions SET user_id = ?, role = ?, nickname = ?"
                " WHERE connection_id = ?",
                (user.id, user.role.value, user.nickname, connection_id),
            )

    def delete_connection(self, connection_id: ConnectionId) -> list[Subscription]:
        with self._write() as db:
            rows = db.execute(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE connection_id = ?",
                (connection_id,),
            ).fetchall()
            db.execute("DELETE FROM subscriptions WHERE connection_id = ?", (connection_id,))
            db.execute("DELETE FROM connections WHERE id = ?", (connection_id,))
            removed = [subscription_of(row) for row in rows]
            for subscription in removed:
                _add_members(db, subscription.filter, -1)
        return removed

    # subscriptions ----------------------------------------------------------------------------
    def subscribe(self, subscription: Subscription, now_ms: int, expires_at: int) -> bool:
        user = subscription.user
        wildcard = int(any(level in ("+", "#") for level in subscription.filter.split("/")))
        with self._write() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO subscriptions (connection_id, filter, wildcard, user_id,"
                " role, nickname, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    subscription.connection_id,
                    subscription.filter,
                    wildcard,
                    user.id,
                    user.role.value,
                    user.nickname,
                    now_ms,
                    expires_at,
                ),
            )
            if cur.rowcount != 1:
                return False
            _add_members(db, subscription.filter, 1)
            return True

    def unsubscribe(self, connection_id: ConnectionId, topic_filter: TopicFilter) -> bool:
        with self._write() as db:
            cur = db.execute(
                "DELETE FROM subscriptions WHERE connection_id = ? AND filter = ?",
                (connection_id, topic_filter),
            )
            if cur.rowcount != 1:
                return False
            _add_members(db, topic_filter, -1)
            return True

    def filters_of(self, connection_id: ConnectionId) -> list[TopicFilter]:
        rows = self._read(
            lambda db: db.execute(
                "SELECT filter FROM subscriptions WHERE connection_id = ? ORDER BY filter",
                (connection_id,),
            ).fetchall()
        )
        return [TopicFilter(row[0]) for row in rows]

    def subscribers(self, topic_filter: TopicFilter) -> list[Subscription]:
        rows = self._read(
            lambda db: db.execute(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE filter = ?",
                (topic_filter,),
            ).fetchall()
        )
        return [subscription_of(row) for row in rows]

    def subscriber_ids(self, topic_filter: TopicFilter) -> list[ConnectionId]:
        rows = self._read(
            lambda db: db.execute(
                "SELECT connection_id FROM subscriptions WHERE filter = ?", (topic_filter,)
            ).fetchall()
        )
        return [ConnectionId(row[0]) for row in rows]

    def subscribers_page(
        self, topic_filter: TopicFilter, after: ConnectionId | None, limit: int
    ) -> tuple[list[Subscription], ConnectionId | None]:
        rows = self._read(
            lambda db: db.execute(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE filter = ?"
                " AND connection_id > ? ORDER BY connection_id LIMIT ?",
                (topic_filter, after or "", max(limit, 0) + 1),
            ).fetchall()
        )
        page = [subscription_of(row) for row in rows[: max(limit, 0)]]
        more = len(rows) > limit and bool(page)
        return page, (page[-1].connection_id if more else None)

    # head counts ------------------------------------------------------------------------------
    def member_count(self, topic: Topic) -> int:
        row = self._read(
            lambda db: db.execute(
                "SELECT members FROM headcounts WHERE topic = ?", (topic,)
            ).fetchone()
        )
        return 0 if row is None else int(row[0])

    def claim_summary(self, topic: Topic, now_ms: int, every_ms: int) -> int | None:
        with self._write() as db:
            row = db.execute(
                "UPDATE headcounts SET summary_at = ? WHERE topic = ?"
                " AND (summary_at IS NULL OR summary_at <= ?) RETURNING members",
                (now_ms, topic, now_ms - every_ms),
            ).fetchone()
        return None if row is None else int(row[0])

    def wildcard_filters(self) -> list[TopicFilter]:
        rows = self._read(
            lambda db: db.execute(
                "SELECT DISTINCT filter FROM subscriptions WHERE wildcard = 1"
            ).fetchall()
        )
        return [TopicFilter(row[0]) for row in rows]

    def wildcard_filters_for(self, topic: Topic) -> list[TopicFilter]:
        # a filter is anchored at P when it starts with "P/+" or "P/#": a level is either a
        # wildcard or has neither character, so two key ranges of the partial index find them
        levels = topic.split("/")
        bounds: list[str] = []
        for depth in range(1, len(levels) + 1):
            prefix = "/".join(levels[:depth])
            bounds += [f"{prefix}/+", f"{prefix}/,", f"{prefix}/#", f"{prefix}/$"]
        ranges = " OR ".join(["(filter >= ? AND filter < ?)"] * (len(bounds) // 2))
        rows = self._read(
            lambda db: db.execute(
                f"SELECT DISTINCT filter FROM subscriptions WHERE wildcard = 1 AND ({ranges})",
                bounds,
            ).fetchall()
        )
        return [TopicFilter(row[0]) for row in rows]

    # messages ---------------------------------------------------------------------------------
    def append(self, request: AppendRequest) -> AppendResult:
        with self._write() as db:
            result = append(db, request)
        if isinstance(result, TokensRefused):
            raise result  # after the commit: the takes before the refused one stay taken
        if request.now_ms >= self._next_sweep_ms:
            self.sweep(request.now_ms)
        return result

    def read_after(self, topic: Topic, after_seq: int, limit: int, now_ms: int) -> MessagePage:
        rows = self._read(
            lambda db: db.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE topic = ? AND seq > ?"
                " AND expires_at > ? ORDER BY seq LIMIT ?",
                (topic, after_seq, now_ms // 1000, limit + 1),
            ).fetchall()
        )
        return MessagePage([message_of(r) for r in rows[:limit]], has_more=len(rows) > limit)

    def read_before(
        self, topic: Topic, before_seq: int | None, limit: int, now_ms: int
    ) -> MessagePage:
        bound = before_seq if before_seq is not None else 2**62
        rows = self._read(
            lambda db: db.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE topic = ? AND seq < ?"
                " AND expires_at > ? ORDER BY seq DESC LIMIT ?",
                (topic, bound, now_ms // 1000, limit + 1),
            ).fetchall()
        )
        page = [message_of(r) for r in rows[:limit]]
        page.reverse()
        return MessagePage(page, has_more=len(rows) > limit)

    def last_seq(self, topic: Topic) -> int:
        row = self._read(
            lambda db: db.execute("SELECT last_seq FROM heads WHERE topic = ?", (topic,)).fetchone()
        )
        return 0 if row is None else int(row[0])

    def recent_topics(
        self, index: str, before_ms: int | None, limit: int, now_ms: int
    ) -> list[TopicSummary]:
        # keyset paging on (updated_at, topic): topics tied on updated_at are never skipped
        cursor: tuple[int, str] = (before_ms if before_ms is not None else 2**62, "")
        out: list[TopicSummary] = []
        while len(out) < limit:
            rows = self._read(partial(_recent_page, index=index, cursor=cursor, limit=limit))
            for topic, updated_at in rows:
                cursor = (updated_at, topic)
                summary = self.topic_summary(Topic(topic))
                if summary is None or summary.last_message is None:
                    continue
                if summary.last_message.expires_at > now_ms // 1000:
                    out.append(summary)
                    if len(out) == limit:
                        break
            if len(rows) < limit:
                break
        return out

    def topic_summary(self, topic: Topic) -> TopicSummary | None:
        def query(db: sqlite3.Connection) -> tuple[Any, Any]:
            head = db.execute(
                "SELECT topic, last_seq, updated_at, title FROM heads WHERE topic = ?", (topic,)
            ).fetchone()
            if head is None:
                return None, None
            last = db.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE topic = ? AND seq = ?",
                (topic, head[1]),
            ).fetchone()
            return head, last

        head, last = self._read(query)
        if head is None:
            return None
        return TopicSummary(
            topic=Topic(head[0]),
            last_seq=head[1],
            updated_at=head[2],
            title=head[3],
            last_message=None if last is None else message_of(last),
        )

    # read markers -----------------------------------------------------------------------------
    def set_read_marker(self, user_id: UserId, topic: Topic, seq: int) -> int:
        with self._write() as db:
            raise_marker(db, user_id, topic, seq)
            row = db.execute(
                "SELECT seq FROM read_markers WHERE user_id = ? AND topic = ?", (user_id, topic)
            ).fetchone()
        return int(row[0])

    def read_markers(self, user_id: UserId, topics: list[Topic]) -> dict[Topic, int]:
        if not topics:
            return {}
        marks = ",".join("?" for _ in topics)
        rows = self._read(
            lambda db: db.execute(
                f"SELECT topic, seq FROM read_markers WHERE user_id = ? AND topic IN ({marks})",
                (user_id, *topics),
            ).fetchall()
        )
        found = {Topic(t): int(q) for t, q in rows}
        return {t: found.get(t, 0) for t in topics}

    # people -----------------------------------------------------------------------------------
    def put_visitor(self, visitor: Visitor) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO visitors (id, nickname, email, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET nickname = excluded.nickname,"
                " email = excluded.email",
                (visitor.id, visitor.nickname, visitor.email, visitor.created_at),
            )

    def get_visitor(self, user_id: UserId) -> Visitor | None:
        row = self._read(
            lambda db: db.execute(
                "SELECT id, nickname, email, created_at FROM visitors WHERE id = ?", (user_id,)
            ).fetchone()
        )
        return None if row is None else Visitor(UserId(row[0]), row[1], row[2], row[3])

    def put_operator(self, operator: Operator) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO operators (id, name, created_at) VALUES (?, ?, ?)",
                (operator.id, operator.name, operator.created_at),
            )

    def get_operator(self, user_id: UserId) -> Operator | None:
        row = self._read(
            lambda db: db.execute(
                "SELECT id, name, created_at FROM operators WHERE id = ?", (user_id,)
            ).fetchone()
        )
        return None if row is None else Operator(UserId(row[0]), row[1], row[2])

    def list_operators(self) -> list[Operator]:
        rows = self._read(
            lambda db: db.execute(
                "SELECT id, name, created_at FROM operators ORDER BY name"
            ).fetchall()
        )
        return [Operator(UserId(r[0]), r[1], r[2]) for r in rows]

    def delete_operator(self, user_id: UserId) -> bool:
        with self._write() as db:
            return db.execute("DELETE FROM operators WHERE id = ?", (user_id,)).rowcount == 1

    def online_operators(self, now_ms: int) -> list[Connection]:
        rows = self._read(
            lambda db: db.execute(
                f"SELECT {CONNECTION_COLUMNS} FROM connections"
                " WHERE role = 'operator' AND expires_at > ?",
                (now_ms // 1000,),
            ).fetchall()
        )
        return [connection_of(row) for row in rows]

    def set_operator_last_seen(self, now_ms: int) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('operator_last_seen', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(now_ms),),
            )

    def operator_last_seen(self) -> int | None:
        row = self._read(
            lambda db: db.execute(
                "SELECT value FROM meta WHERE key = 'operator_last_seen'"
            ).fetchone()
        )
        return None if row is None else int(row[0])

    # edits and sanctions ------------------------------------------------------------------------
    def get_message(self, topic: Topic, seq: int, now_ms: int) -> Message | None:
        return self._read(lambda db: find_message(db, topic, seq, now_ms))

    def edit_message(
        self, topic: Topic, seq: int, message_id: MessageId, author: UserId, text: str, now_ms: int
    ) -> Message | None:
        with self._write() as db:
            return revise(db, topic, seq, message_id, author=author, text=text, now_ms=now_ms)

    def delete_message(
        self, topic: Topic, seq: int, message_id: MessageId, now_ms: int
    ) -> Message | None:
        with self._write() as db:
            return revise(db, topic, seq, message_id, author=None, text=None, now_ms=now_ms)

    def put_upload(self, upload: Upload) -> None:
        with self._write() as db:
            put_upload(db, upload)

    def get_uploads(self, ids: list[str], now_ms: int) -> list[Upload]:
        return self._read(lambda db: get_uploads(db, ids, now_ms))

    # streams ----------------------------------------------------------------------------------
    def decode_change(self, image: Mapping[str, Any]) -> Message | None:
        return message_from_item(image)

    def sweep(self, now_ms: int, *, batch: int = 5000) -> int:
        """Delete expired items in bounded batches (TTL's job on DynamoDB). Topic heads stay, so
        a topic's seq never restarts after its messages expire."""
        now_s = now_ms // 1000
        self._next_sweep_ms = now_ms + _SWEEP_EVERY_MS
        with self._write() as db:
            removed = db.execute(
                "DELETE FROM messages WHERE (topic, seq) IN"
                " (SELECT topic, seq FROM messages WHERE expires_at <= ? LIMIT ?)",
                (now_s, batch),
            ).rowcount
            removed += db.execute(
                "DELETE FROM dedupe WHERE (topic, sender, cmid) IN"
                " (SELECT topic, sender, cmid FROM dedupe WHERE expires_at <= ? LIMIT ?)",
                (now_s, batch),
            ).rowcount
            removed += db.execute(
                "DELETE FROM connections WHERE expires_at <= ?", (now_s,)
            ).rowcount
            expired = db.execute(
                "SELECT filter, count(*) FROM subscriptions WHERE expires_at <= ?"
                " AND wildcard = 0 GROUP BY filter",
                (now_s,),
            ).fetchall()
            for topic_filter, count in expired:
                _add_members(db, topic_filter, -int(count))
            removed += db.execute(
                "DELETE FROM subscriptions WHERE expires_at <= ?", (now_s,)
            ).rowcount
            removed += db.execute("DELETE FROM sanctions WHERE until_ms <= ?", (now_ms,)).rowcount
            removed += db.execute("DELETE FROM uploads WHERE expires_at <= ?", (now_s,)).rowcount
            removed += db.execute(
                "DELETE FROM rate_buckets WHERE expires_at <= ?", (now_s,)
            ).rowcount
            streamlog.trim(db, now_ms - 24 * 3600 * 1000)
        return removed


def _add_members(db: sqlite3.Connection, topic_filter: str, delta: int) -> None:
    """Move an exact topic's head count with the subscription write it belongs to (wildcard
    filters have no presence, so no count)."""
    if any(level in ("+", "#") for level in topic_filter.split("/")):
        return
    db.execute(
        "INSERT INTO headcounts (topic, members) VALUES (?, max(?, 0))"
        " ON CONFLICT (topic) DO UPDATE SET members = max(members + ?, 0)",
        (topic_filter, delta, delta),
    )


def _recent_page(
    db: sqlite3.Connection, *, index: str, cursor: tuple[int, str], limit: int
) -> list[Any]:
    """One page of a recency index strictly after ``cursor`` = (updated_at, topic), newest first.

    The first page's cursor has an empty topic, so it means "updated before ``updated_at``"."""
    updated_at, topic = cursor
    return db.execute(
        "SELECT topic, updated_at FROM heads WHERE recency_index = ?"
        " AND (updated_at < ? OR (updated_at = ? AND topic < ?))"
        " ORDER BY updated_at DESC, topic DESC LIMIT ?",
        (index, updated_at, updated_at, topic, limit),
    ).fetchall()
