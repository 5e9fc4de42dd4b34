"""SQLite rows <-> the Store's records, for the tables of ``hubbub.store.sqlite.schema``.

Each decoder expects the columns in the order of the SELECT that goes with it (``MESSAGE_COLUMNS``,
``CONNECTION_COLUMNS``, ``SUBSCRIPTION_COLUMNS``), so a query and its decoder change together.
"""

from __future__ import annotations

import json
from typing import Any

from hubbub.ids import ClientMsgId, ConnectionId, MessageId, Topic, TopicFilter, UserId
from hubbub.store.items import attachment_of, attachment_view, role_of
from hubbub.store.records import Connection, Message, Role, Subscription, User

__all__ = [
    "CONNECTION_COLUMNS",
    "MESSAGE_COLUMNS",
    "SUBSCRIPTION_COLUMNS",
    "connection_of",
    "connection_row",
    "message_of",
    "message_row",
    "subscription_of",
]

MESSAGE_COLUMNS = (
    "topic, seq, id, ts, sender, nickname, text, cmid, expires_at, role, edited_at, deleted,"
    " attachments"
)
CONNECTION_COLUMNS = "id, user_id, role, nickname, connected_at, expires_at, client_id"
SUBSCRIPTION_COLUMNS = "connection_id, filter, user_id, role, nickname"


def message_of(row: tuple[Any, ...]) -> Message:
    return Message(
        topic=Topic(row[0]),
        seq=row[1],
        id=MessageId(row[2]),
        ts=row[3],
        sender=UserId(row[4]),
        nickname=row[5],
        text=row[6],
        client_msg_id=ClientMsgId(row[7]),
        expires_at=row[8],
        role=role_of(row[9]),
        edited_at=row[10],
        deleted=bool(row[11]),
        attachments=tuple(attachment_of(a) for a in json.loads(row[12] or "[]")),
    )


def message_row(message: Message) -> tuple[Any, ...]:
    """The values of ``MESSAGE_COLUMNS``, in order: the inverse of ``message_of``."""
    return (
        message.topic,
        message.seq,
        message.id,
        message.ts,
        message.sender,
        message.nickname,
        message.text,
        message.client_msg_id,
        message.expires_at,
        message.role.value,
        message.edited_at,
        1 if message.deleted else 0,
        json.dumps([attachment_view(a) for a in message.attachments])
        if message.attachments
        else None,
    )


def connection_of(row: tuple[Any, ...]) -> Connection:
    return Connection(
        id=ConnectionId(row[0]),
        user=User(UserId(row[1]), Role(row[2]), row[3]),
        connected_at=row[4],
        expires_at=row[5],
        client_id=row[6],
    )


def connection_row(connection: Connection) -> tuple[Any, ...]:
    """The values of ``CONNECTION_COLUMNS`` for ``connection``, in that order."""
    user = connection.user
    return (
        connection.id,
        user.id,
        user.role.value,
        user.nickname,
        connection.connected_at,
        connection.expires_at,
        connection.client_id,
    )


def subscription_of(row: tuple[Any, ...]) -> Subscription:
    return Subscription(
        connection_id=ConnectionId(row[0]),
        filter=TopicFilter(row[1]),
        user=User(UserId(row[2]), Role(row[3]), row[4]),
    )
