"""The values the Store port speaks in: users, connections, subscriptions, messages, topic heads.

Plain frozen records with no behaviour of their own, so that the chat services, the adapters and
the role protocols of ``hubbub.store.roles`` can all name them without importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hubbub.ids import ClientMsgId, ConnectionId, MessageId, Topic, TopicFilter, UserId
from hubbub.store.buckets import Rate

__all__ = [
    "AppendRequest",
    "AppendResult",
    "Attachment",
    "Connection",
    "Message",
    "MessagePage",
    "Operator",
    "PendingMail",
    "Role",
    "Sanction",
    "SanctionKind",
    "StoreUnavailable",
    "Subscription",
    "TokensRefused",
    "TopicSummary",
    "Upload",
    "User",
    "Visitor",
    "placed_message_id",
    "seq_of_message_id",
]


class StoreUnavailable(Exception):
    """The backend is busy or unreachable; the caller answers ``unavailable`` and the client
    retries."""


class TokensRefused(Exception):
    """An append's ``takes`` ran out: nothing was appended. The takes before the refused one
    (``taken`` of them) stay taken, as with ``RateBuckets.take_tokens``."""

    def __init__(self, taken: int, wait_us: int) -> None:
        super().__init__(f"take {taken} refused for {wait_us} us")
        self.taken = taken
        self.wait_us = wait_us


class Role(StrEnum):
    GUEST = "guest"
    VISITOR = "visitor"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class User:
    id: UserId
    role: Role
    nickname: str | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "role": self.role.value, "nickname": self.nickname}


@dataclass(frozen=True, slots=True)
class Connection:
    id: ConnectionId
    user: User
    connected_at: int
    expires_at: int
    client_id: str | None = None
    """An MQTT member's client id, as IoT Core names the connection (its DeleteConnection takes
    it; the id above is a one-way digest of it). None for WebSocket connections and for items
    stored before it was recorded."""


@dataclass(frozen=True, slots=True)
class Subscription:
    connection_id: ConnectionId
    filter: TopicFilter
    user: User


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file a message carries: what the message item stores of it. The object's URL is not
    stored: it is presigned whenever the message is shown (it expires; the key does not)."""

    id: str
    filename: str
    content_type: str
    size: int
    key: str
    """The object's key in the attachments bucket."""


@dataclass(frozen=True, slots=True)
class Upload:
    """An attachment as its uploader was allowed to send it: who, for which topic, until when.
    A ``send`` may name only its sender's own uploads, for the same topic."""

    attachment: Attachment
    owner: UserId
    topic: Topic
    created_at: int
    expires_at: int
    """Epoch seconds (TTL): as long as a message on ``topic`` sent now would be kept."""


@dataclass(frozen=True, slots=True)
class Message:
    topic: Topic
    seq: int
    id: MessageId
    ts: int
    sender: UserId
    nickname: str | None
    text: str
    client_msg_id: ClientMsgId
    expires_at: int
    role: Role = Role.VISITOR
    """The sender's role when they sent it, from their authenticated identity: what a client
    badges staff by. Messages stored before roles were recorded read as ``visitor``, which
    claims nothing."""
    edited_at: int | None = None
    """When its author last changed the text (epoch ms); None for a message never edited."""
    deleted: bool = False
    """A tombstone: the text is gone from the store, the place in the topic's ``seq`` stays."""
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class AppendRequest:
    topic: Topic
    sender: UserId
    nickname: str | None
    text: str
    client_msg_id: ClientMsgId
    message_id: MessageId
    now_ms: int
    expires_at: int
    dedupe_expires_at: int
    recency_index: str | None = None
    """Name of the recency index the topic is listed in ("room", "desk"), or None."""
    title: str | None = None
    """A label for the topic in its recency index (a desk's visitor nickname); None keeps the
    old."""
    role: Role = Role.VISITOR
    """The sender's role, from the connection's or the token's identity, never from a frame."""
    attachments: tuple[Attachment, ...] = ()
    mark_read: bool = False
    """Also move the sender's read marker up to the new message (their own message is never
    unread for them), as part of the append where the store can: not on a duplicate."""
    takes: tuple[tuple[str, Rate], ...] = ()
    """Rate-limit tokens to take before appending, as ``RateBuckets.take_tokens`` takes them,
    in the append's own write where the store can (SQLite: one transaction, not two, for every
    send). One refused: ``TokensRefused``, and nothing appended."""


@dataclass(frozen=True, slots=True)
class TopicSummary:
    """A topic's head: what a recency listing (active rooms, desk conversations) shows."""

    topic: Topic
    last_seq: int
    updated_at: int
    title: str | None
    last_message: Message | None


@dataclass(frozen=True, slots=True)
class Operator:
    id: UserId
    name: str
    created_at: int


@dataclass(frozen=True, slots=True)
class Visitor:
    id: UserId
    nickname: str
    email: str | None
    created_at: int


@dataclass(frozen=True, slots=True)
class AppendResult:
    message: Message
    duplicate: bool


@dataclass(frozen=True, slots=True)
class MessagePage:
    messages: list[Message]
    has_more: bool


class SanctionKind(StrEnum):
    """The sanctions an operator can store on a (topic, user); ``kick`` is not stored."""

    MUTE = "mute"
    BAN = "ban"


@dataclass(frozen=True, slots=True)
class Sanction:
    topic: Topic
    user_id: UserId
    kind: SanctionKind
    until_ms: int | None
    """When it ends (epoch ms); None for one that lasts until lifted."""
    created_at: int

    def active(self, now_ms: int) -> bool:
        """TTL deletes lag (by up to two days on DynamoDB), so a read drops expired ones."""
        return self.until_ms is None or self.until_ms > now_ms


def placed_message_id(base: MessageId, seq: int) -> MessageId:
    """A stored message's id ends in its ``seq``: an edit or delete names a message by id, and
    the id alone must find the item (a GetItem on its key) without an index or a lookup item
    written on every send. The id is still checked whole against the stored one."""
    return MessageId(f"{base}.{seq}")


def seq_of_message_id(message_id: str) -> int | None:
    """The ``seq`` a message id ends in, or None for an id that does not name one."""
    _, dot, tail = message_id.rpartition(".")
    if not dot or not tail.isdigit() or len(tail) > 15:
        return None
    return int(tail)


@dataclass(frozen=True, slots=True)
class PendingMail:
    """A desk conversation's email to its visitor: operators answered while the visitor was
    away, and the answers up to ``answer_seq`` wait to be mailed at ``due_at``."""

    topic: Topic
    visitor_id: UserId
    due_at: int
    """When the email may go (epoch ms): the end of the window that gathers the answers."""
    answer_seq: int
    """The newest operator answer queued for mailing."""
    mailed_seq: int
    """Answers up to this ``seq`` were mailed (or dropped) already: 0 before the first email."""
    last_sent_at: int | None
    """When the conversation's last email went (epoch ms); None before the first."""
