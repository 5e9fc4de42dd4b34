"""The Store port cut along the roles chat uses it in, one small protocol per role.

A chat service names the roles it needs (the fan-out only ``Subscriptions``, the desk its
``Directory``, ``ReadMarkers``, ...) so its dependencies show in its signature; ``Store`` in
``hubbub.store.port`` is their union, which every adapter implements and the contract suite tests.

Each method maps to a GetItem, a Query or one conditional write (transaction) on DynamoDB, so no
method may assume SQL: no joins, no scans, no counting over a whole table.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from hubbub.ids import ConnectionId, MessageId, Topic, TopicFilter, UserId
from hubbub.store.buckets import Rate
from hubbub.store.records import (
    AppendRequest,
    AppendResult,
    Connection,
    Message,
    MessagePage,
    Operator,
    PendingMail,
    Sanction,
    SanctionKind,
    Subscription,
    TopicSummary,
    Upload,
    User,
    Visitor,
)

__all__ = [
    "ChangeDecoder",
    "Connections",
    "Directory",
    "Headcounts",
    "Mailings",
    "MessageLog",
    "RateBuckets",
    "ReadMarkers",
    "Sanctions",
    "Subscriptions",
    "Uploads",
]


class Connections(Protocol):
    """Open WebSocket connections and the user each one speaks for."""

    @abstractmethod
    def put_connection(self, connection: Connection) -> None: ...

    @abstractmethod
    def get_connection(self, connection_id: ConnectionId) -> Connection | None: ...

    @abstractmethod
    def set_connection_user(self, connection_id: ConnectionId, user: User) -> None: ...

    @abstractmethod
    def delete_connection(self, connection_id: ConnectionId) -> list[Subscription]:
        """Forget a connection and its subscriptions; returns what was removed (for ``left``)."""

    @abstractmethod
    def online_operators(self, now_ms: int) -> list[Connection]:
        """Open, unexpired connections of operators (an index on role), for ``operatorsOnline``.

        Expired ones are filtered here because TTL deletes lag by up to two days."""


class Subscriptions(Protocol):
    """Who listens with which topic filter: the lookups of fan-out and presence."""

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
    def subscribers_page(
        self, topic_filter: TopicFilter, after: ConnectionId | None, limit: int
    ) -> tuple[list[Subscription], ConnectionId | None]:
        """Up to ``limit`` subscriptions of the filter whose connection id sorts after ``after``,
        in connection id order, and the cursor of the next page (None on the last): one bounded
        Query, for listing a large room a page at a time."""

    @abstractmethod
    def subscriber_ids(self, topic_filter: TopicFilter) -> list[ConnectionId]:
        """The connections of ``subscribers``, and nothing else: the fan-out's lookup, run for
        every message, needs no users (building them was a third of its time at 1,000)."""

    @abstractmethod
    def wildcard_filters(self) -> list[TopicFilter]:
        """Every wildcard filter with at least one subscriber, each once. Not on the message
        path: a subscribe that would add a filter counts them against the registry's bound (on
        DynamoDB an eventually consistent index Query)."""

    @abstractmethod
    def wildcard_filters_for(self, topic: Topic) -> list[TopicFilter]:
        """The registered wildcard filters anchored at a prefix of ``topic`` (the levels before
        a filter's first wildcard: ``room`` for ``room/+``): the only ones that can match it, so
        what a message reads does not grow with the filters anchored elsewhere. Every matching
        filter is among them; some may not match (``room/+/x``), so the caller still matches.
        Filters whose first level is a wildcard are not registered (the policy refuses them)."""


class Headcounts(Protocol):
    """How many subscriptions each exact topic has, kept with the subscriptions themselves, so a
    large room's size is one GetItem instead of a Query over all its members (presence at scale).

    The count is of subscriptions (connections), not of distinct users: a person with two tabs in
    a room counts twice. Wildcard subscriptions are not counted. ``subscribe``, ``unsubscribe``
    and ``delete_connection`` move it in the same write as the subscription items."""

    @abstractmethod
    def member_count(self, topic: Topic) -> int:
        """The topic's exact subscriptions now (0 for a topic nobody follows): one GetItem."""

    @abstractmethod
    def claim_summary(self, topic: Topic, now_ms: int, every_ms: int) -> int | None:
        """Claim the right to push the topic's presence summary: one conditional write that
        succeeds only if the last claim is at least ``every_ms`` old, so whichever process
        (Lambda execution environment, local worker) gets there first pushes and every other
        one in the same window does not. Returns the count to announce, or None when the window
        is already taken."""


class MessageLog(Protocol):
    """Each topic's messages in gapless ``seq`` order, and the one write that appends to it."""

    @abstractmethod
    def append(self, request: AppendRequest) -> AppendResult:
        """One atomic write: dedupe on (topic, sender, clientMsgId), next gapless seq, the message.

        A lost race for the topic head is retried inside, never surfaced as a lost message.
        First ``request.takes`` are taken as ``RateBuckets.take_tokens`` takes them (in the same
        transaction where the store can); one refused raises ``TokensRefused`` and nothing is
        appended, the takes before it staying taken.
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
    def get_message(self, topic: Topic, seq: int, now_ms: int) -> Message | None:
        """The message at ``seq`` (tombstone included), unexpired: one GetItem on its key."""

    @abstractmethod
    def edit_message(
        self, topic: Topic, seq: int, message_id: MessageId, author: UserId, text: str, now_ms: int
    ) -> Message | None:
        """Replace the text of the live message ``message_id`` at ``seq`` sent by ``author`` and
        stamp ``edited_at``: one conditional write, which the change stream carries (a MODIFY of
        the message item). None, with nothing written, when no such message is there (gone,
        another id, deleted, someone else's): the caller reads it to say which."""

    @abstractmethod
    def delete_message(
        self, topic: Topic, seq: int, message_id: MessageId, now_ms: int
    ) -> Message | None:
        """Turn the live message ``message_id`` at ``seq`` into a tombstone (text removed, its
        ``seq`` kept): one conditional write the stream carries. None when there is no live
        message of that id, so a second delete writes nothing and streams nothing."""


class Uploads(Protocol):
    """Attachments uploaded and not necessarily sent yet: a ``send`` names them by id, and may
    name only its sender's own, for its topic."""

    @abstractmethod
    def put_upload(self, upload: Upload) -> None:
        """Record an upload (one PutItem); its id is fresh, so nothing is overwritten."""

    @abstractmethod
    def get_uploads(self, ids: list[str], now_ms: int) -> list[Upload]:
        """The unexpired uploads among ``ids`` (one BatchGetItem, strongly consistent: a send
        follows its upload within moments), in no particular order; unknown ids are absent."""


class Sanctions(Protocol):
    """Mutes and bans of a user on a topic, each with an optional end (a TTL)."""

    @abstractmethod
    def put_sanction(self, sanction: Sanction) -> None:
        """Store (or replace) the sanction of its kind for its (topic, user)."""

    @abstractmethod
    def lift_sanction(self, topic: Topic, user_id: UserId, kind: SanctionKind) -> bool:
        """Remove it; True when one was stored (expired or not)."""

    @abstractmethod
    def sanctions_on(self, topic: Topic, user_id: UserId, now_ms: int) -> list[Sanction]:
        """The user's unexpired sanctions on the topic: on the send path, so one read (a
        Query of at most two small items in the topic's partition, as costly as a GetItem)."""

    @abstractmethod
    def list_sanctions(self, topic: Topic | None, now_ms: int) -> list[Sanction]:
        """Unexpired sanctions on one topic, or on every topic (an index Query), for the
        console; not on the message path."""

    @abstractmethod
    def sanctions_of(self, user_id: UserId, now_ms: int) -> list[Sanction]:
        """The user's unexpired sanctions on every topic, sorted by topic then kind: one Query
        of a sparse index that holds sanctions only, so its cost is the user's sanctions, not
        everyone's (the MQTT authorizer's, on connect and on each policy refresh)."""


class ReadMarkers(Protocol):
    """How far each user has read each topic; markers only move forward."""

    @abstractmethod
    def set_read_marker(self, user_id: UserId, topic: Topic, seq: int) -> int:
        """Move a user's read marker forward (never back); returns the marker now stored."""

    @abstractmethod
    def read_markers(self, user_id: UserId, topics: list[Topic]) -> dict[Topic, int]:
        """Markers for these topics (0 where none): a BatchGetItem on DynamoDB."""


class Directory(Protocol):
    """The people (visitors, operators) and the topics listed by recency (rooms, desk)."""

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
    def set_operator_last_seen(self, now_ms: int) -> None: ...

    @abstractmethod
    def operator_last_seen(self) -> int | None: ...

    @abstractmethod
    def recent_topics(
        self, index: str, before_ms: int | None, limit: int, now_ms: int
    ) -> list[TopicSummary]:
        """Topics of a recency index, most recently active first, updated before ``before_ms``.

        Topics whose last message has expired are left out.
        """

    @abstractmethod
    def topic_summary(self, topic: Topic) -> TopicSummary | None: ...


class RateBuckets(Protocol):
    """The rate limiter's token buckets, one per key, shared by every execution environment."""

    @abstractmethod
    def take_token(self, bucket: str, rate: Rate, now_ms: int) -> int:
        """Take one token from ``bucket`` (one or two conditional writes): 0 when taken,
        otherwise the microseconds until one will be (then more than 0). A refusal changes
        nothing, so a flood of refused takes never pushes the next allowed one further away."""

    def take_tokens(self, takes: Sequence[tuple[str, Rate]], now_ms: int) -> tuple[int, int]:
        """``take_token`` for each ``(bucket, rate)`` in order, stopping at the first refusal:
        how many were taken, and the refused one's wait (0 when all were taken). Exactly the
        calls one after the other; a store may make them in one transaction (SQLite does, a
        send's two buckets then cost one commit, not two)."""
        for index, (bucket, rate) in enumerate(takes):
            wait_us = self.take_token(bucket, rate, now_ms)
            if wait_us:
                return index, wait_us
        return len(takes), 0


class ChangeDecoder(Protocol):
    """Reads the store's change stream (DynamoDB Streams, or SQLite's outbox in its shape)."""

    @abstractmethod
    def decode_change(self, image: Mapping[str, Any]) -> Message | None:
        """Turn a stream record's NewImage (plain values) into a Message, or None for other
        items."""


class Mailings(Protocol):
    """Emails to visitors who left: one pending mail per desk conversation, found by when it is
    due, and each visitor's opt-out. Written by the stream (an operator's answer queues), read
    and cleared by the scheduled sender; both run anywhere, so every step is one conditional
    write that a repeat or a race cannot double."""

    @abstractmethod
    def queue_mail(self, topic: Topic, visitor_id: UserId, answer_seq: int, due_at: int) -> bool:
        """Note that the answer at ``answer_seq`` waits to be mailed: one conditional write.
        The conversation's pending mail keeps the due time it has (so answers gather into one
        email), or takes ``due_at`` when none is pending. False, with nothing written, when an
        answer at or after ``answer_seq`` was queued or mailed already (a stream retry)."""

    @abstractmethod
    def due_mails(self, now_ms: int, limit: int) -> list[PendingMail]:
        """Pending mails due at ``now_ms`` or before, earliest first: one Query of an index
        that holds pending mails only."""

    @abstractmethod
    def claim_mail(self, topic: Topic, due_at: int, until: int) -> bool:
        """Move a pending mail due at ``due_at`` to ``until`` (a lease while it is sent, or a
        later window): one conditional write, so of two senders only one wins it."""

    @abstractmethod
    def finish_mail(
        self, topic: Topic, mailed_seq: int, sent_at: int | None, next_due_at: int
    ) -> PendingMail | None:
        """Answers up to ``mailed_seq`` are done (mailed at ``sent_at``, or dropped when None).
        The pending mail ends, unless an answer after ``mailed_seq`` was queued meanwhile: then
        it stays pending, due at ``next_due_at``, and is returned."""

    @abstractmethod
    def opt_out(self, visitor_id: UserId, now_ms: int) -> bool:
        """Record that the visitor wants no more email; True when it is new (idempotent)."""

    @abstractmethod
    def opted_out(self, visitor_id: UserId) -> bool:
        """Whether the visitor asked for no email: one GetItem."""
