"""The Store port: everything chat needs to remember, phrased as the access patterns of DESIGN §6.

Each method maps to a GetItem, a Query or one conditional write (transaction) on DynamoDB, so no
method may assume SQL: no joins, no scans, no counting over a whole table.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hubbub.ids import ClientMsgId, ConnectionId, MessageId, Topic, TopicFilter, UserId

__all__ = [
    "AppendRequest",
    "AppendResult",
    "Connection",
    "Message",
    "MessagePage",
    "Operator",
    "Role",
    "Store",
    "StoreUnavailable",
    "Subscription",
    "TopicSummary",
    "User",
    "Visitor",
]


class StoreUnavailable(Exception):
    """The backend is busy or unreachable; the caller answers ``unavailable`` and the client
    retries."""


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


@dataclass(frozen=True, slots=True)
class Subscription:
    connection_id: ConnectionId
    filter: TopicFilter
    user: User


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
    mark_read: bool = False
    """Also move the sender's read marker up to the new message (their own message is never
    unread for them), as part of the append where the store can: not on a duplicate."""


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


class Store(ABC):
    """One behaviour, several backends: tests/contract runs the same suite against every adapter."""

    # connections -----------------------------------------------------------------------------
    @abstractmethod
    def put_connection(self, connection: Connection) -> None: ...

    @abstractmethod
    def get_connection(self, connection_id: ConnectionId) -> Connection | None: ...

    @abstractmethod
    def set_connection_user(self, connection_id: ConnectionId, user: User) -> None: ...

    @abstractmethod
    def delete_connection(self, connection_id: ConnectionId) -> list[Subscription]:
        """Forget a connection and its subscriptions; returns what was removed (for ``left``)."""

    # subscriptions ---------------------------------------------------------------------------
    @abstractmethod
    def subscribe(self, subscription: Subscription, now_ms: int, expires_at: int) -> bool:
        """Record a subscription; True when it is new."""

    @abstractmethod
    def unsubscribe(self, connection_id: ConnectionId, topic_filter: TopicFilter) -> bool: ...

    @abstractmethod
    def filters_of(self, connection_id: ConnectionId) -> list[TopicFilter]: ...

    @abstractmethod
    def subscribers(self, topic_filter: TopicFilter) -> list[Subscription]:
        """Everyone subscribed with exactly this filter: one Query."""

    @abstractmethod
    def subscriber_ids(self, topic_filter: TopicFilter) -> list[ConnectionId]:
        """The connections of ``subscribers``, and nothing else: the fan-out's lookup, run for
        every message, needs no users (building them was a third of its time at 1,000)."""

    @abstractmethod
    def wildcard_filters(self) -> list[TopicFilter]:
        """The wildcard filters with at least one subscriber (a small registry, one Query)."""

    # messages --------------------------------------------------------------------------------
    @abstractmethod
    def append(self, request: AppendRequest) -> AppendResult:
        """One atomic write: dedupe on (topic, sender, clientMsgId), next gapless seq, the message.

        A lost race for the topic head is retried inside, never surfaced as a lost message.
        """

    @abstractmethod
    def read_after(self, topic: Topic, after_seq: int, limit: int, now_ms: int) -> MessagePage:
        """Messages with seq > after_seq, oldest first, unexpired."""

    @abstractmethod
    def read_before(
        self, topic: Topic, before_seq: int | None, limit: int, now_ms: int
    ) -> MessagePage:
        """The newest messages with seq < before_seq (all when None), returned oldest first."""

    @abstractmethod
    def last_seq(self, topic: Topic) -> int: ...

    @abstractmethod
    def recent_topics(
        self, index: str, before_ms: int | None, limit: int, now_ms: int
    ) -> list[TopicSummary]:
        """Topics of a recency index, most recently active first, updated before ``before_ms``.

        Topics whose last message has expired are left out.
        """

    @abstractmethod
    def topic_summary(self, topic: Topic) -> TopicSummary | None: ...

    # read markers -----------------------------------------------------------------------------
    @abstractmethod
    def set_read_marker(self, user_id: UserId, topic: Topic, seq: int) -> int:
        """Move a user's read marker forward (never back); returns the marker now stored."""

    @abstractmethod
    def read_markers(self, user_id: UserId, topics: list[Topic]) -> dict[Topic, int]:
        """Markers for these topics (0 where none): a BatchGetItem on DynamoDB."""

    # people -----------------------------------------------------------------------------------
    @abstractmethod
    def put_visitor(self, visitor: Visitor) -> None: ...

    @abstractmethod
    def get_visitor(self, user_id: UserId) -> Visitor | None: ...

    @abstractmethod
    def put_operator(self, operator: Operator) -> None: ...

    @abstractmethod
    def get_operator(self, user_id: UserId) -> Operator | None: ...

    @abstractmethod
    def list_operators(self) -> list[Operator]: ...

    @abstractmethod
    def delete_operator(self, user_id: UserId) -> bool: ...

    @abstractmethod
    def online_operators(self, now_ms: int) -> list[Connection]:
        """Open, unexpired connections of operators (an index on role), for ``operatorsOnline``.

        Expired ones are filtered here because TTL deletes lag by up to two days."""

    @abstractmethod
    def set_operator_last_seen(self, now_ms: int) -> None: ...

    @abstractmethod
    def operator_last_seen(self) -> int | None: ...

    # streams ----------------------------------------------------------------------------------
    @abstractmethod
    def decode_change(self, image: Mapping[str, Any]) -> Message | None:
        """Turn a stream record's NewImage (plain values) into a Message, or None for other
        items."""

    def close(self) -> None:
        """Release connections and files; the default has nothing to release."""

    def sweep(self, now_ms: int) -> int:
        """Delete expired items now rather than when TTL gets to them; returns how many."""
        return 0
