"""The DynamoDB Store: the one table of ``template.yaml`` (``ChatTable``), keys ``pk``/``sk``.

The item layout (where each kind of item lives) is the docstring of ``keys``.

A topic's messages, head and dedupe records share one partition so ``append`` is a single
transaction on one item collection. Every request-path access is a GetItem, a Query, a
BatchGetItem or a conditional write; nothing scans.

Wildcard registry: fan-out reads it to learn which wildcard filters to look up; how it is spread
over partitions, and kept, is the docstring of ``registry``.

Not atomic, unlike SQLite: ``delete_connection`` removes each subscription in its own transaction
(each reported by exactly one caller, so a racing ``$disconnect`` and 410 never both announce
``left``), then the connection; re-running it finishes an interrupted one.

Expiry: DynamoDB's TTL deletes lag by up to two days, so every read that is given ``now_ms``
drops items whose ``expiresAt <= now_ms // 1000``. ``sweep`` returns 0: on AWS, TTL is the sweeper.

This module holds the Store's public methods; the rest of the package is cut by role: ``keys``
(where items live), ``codec`` (items <-> records), ``expressions``, ``client`` (the table, its
limits and retries) and ``append`` (the send transaction).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from hubbub.ids import ConnectionId, MessageId, Topic, TopicFilter, UserId
from hubbub.store.dynamodb.append import Appender
from hubbub.store.dynamodb.buckets import DynamoBuckets
from hubbub.store.dynamodb.client import ClientLimits, ConditionFailed, Table
from hubbub.store.dynamodb.codec import (
    Item,
    connection_of,
    dump,
    load,
    operator_of,
    role_index,
    subscription_of,
    summary_of,
    to_int,
    user_attributes,
    visitor_of,
    without_none,
)
from hubbub.store.dynamodb.expressions import optional, placeholders, update
from hubbub.store.dynamodb.keys import (
    CONN_SK,
    HEAD_SK,
    LAST_SEEN_SK,
    MAX_SEQ,
    MAX_UPDATED_AT,
    MEMBERS_SK,
    META_PK,
    OPERATOR_ROLE_KEY,
    OPERATORS_PK,
    VISITOR_SK,
    connection_pk,
    filter_pk,
    headcount_pk,
    is_wildcard,
    key,
    marker_sk,
    message_sk,
    recent_pk,
    subscription_sk,
    topic_pk,
    user_pk,
)
from hubbub.store.dynamodb.mailings import DynamoMailings
from hubbub.store.dynamodb.registry import WildcardRegistry
from hubbub.store.dynamodb.revisions import Revisions
from hubbub.store.dynamodb.sanctions import SanctionItems
from hubbub.store.dynamodb.schema import GSI1
from hubbub.store.dynamodb.uploads import UploadItems
from hubbub.store.items import message_from_item
from hubbub.store.port import (
    AppendRequest,
    AppendResult,
    Connection,
    Message,
    MessagePage,
    Operator,
    Rate,
    Store,
    Subscription,
    TokensRefused,
    TopicSummary,
    User,
    Visitor,
)

__all__ = ["ClientLimits", "DynamoStore"]

log = logging.getLogger(__name__)


class DynamoStore(UploadItems, DynamoMailings, SanctionItems, Store):
    def __init__(
        self,
        table_name: str,
        *,
        client: Any = None,
        endpoint_url: str | None = None,
        max_append_attempts: int = 16,
        limits: ClientLimits | None = None,
    ) -> None:
        self._table = Table(table_name, client=client, endpoint_url=endpoint_url, limits=limits)
        self._appender = Appender(self._table, max_append_attempts, self.set_read_marker)
        self._buckets = DynamoBuckets(self._table)
        self._wildcards = WildcardRegistry(self._table)
        self._revisions = Revisions(self._table)

    def close(self) -> None:
        """Close the client this store made; a client passed in belongs to the caller."""
        self._table.close()

    # connections ------------------------------------------------------------------------------
    def put_connection(self, connection: Connection) -> None:
        user = connection.user
        self._table.put(
            without_none(
                {
                    "pk": connection_pk(connection.id),
                    "sk": CONN_SK,
                    "kind": "conn",
                    "id": connection.id,
                    **user_attributes(user),
                    **role_index(user, connection.id),
                    "connectedAt": connection.connected_at,
                    "expiresAt": connection.expires_at,
                    "clientId": connection.client_id,
                }
            )
        )

    def get_connection(self, connection_id: ConnectionId) -> Connection | None:
        item = self._table.get(connection_pk(connection_id), CONN_SK)
        return None if item is None else connection_of(item)

    def set_connection_user(self, connection_id: ConnectionId, user: User) -> None:
        sets, removes = optional(**user_attributes(user), **role_index(user, connection_id))
        self._update_existing(connection_pk(connection_id), CONN_SK, sets, removes)
        for item in self._table.partition(connection_pk(connection_id), "S#"):
            self._set_subscription_user(subscription_of(item), user)

    def _update_existing(
        self, pk: str, sk: str, sets: Mapping[str, Any], removes: Iterable[str]
    ) -> None:
        """Update an item only if it is there: a racing delete must not resurrect it as a stub."""
        expression, values = update(sets, removes)
        condition = "attribute_exists(#pk)"
        with contextlib.suppress(ConditionFailed):
            self._table.call(
                "update_item",
                TableName=self._table.name,
                Key=key(pk, sk),
                UpdateExpression=expression,
                ConditionExpression=condition,
                **placeholders(expression, condition, **values),
            )

    def _set_subscription_user(self, subscription: Subscription, user: User) -> None:
        sets, removes = optional(**user_attributes(user))
        expression, values = update(sets, removes)
        condition = "attribute_exists(#pk)"
        names_values = placeholders(expression, condition, **values)
        updates = [
            {
                "Update": {
                    "TableName": self._table.name,
                    "Key": item_key,
                    "UpdateExpression": expression,
                    "ConditionExpression": condition,
                    **names_values,
                }
            }
            for item_key in self._subscription_keys(subscription.connection_id, subscription.filter)
        ]
        self._table.transact_conditions(
            updates
        )  # refused: unsubscribed meanwhile, nothing to update

    def delete_connection(self, connection_id: ConnectionId) -> list[Subscription]:
        removed = [
            subscription
            for subscription in map(
                subscription_of, self._table.partition(connection_pk(connection_id), "S#")
            )
            if self._remove_subscription(subscription.connection_id, subscription.filter)
        ]
        self._table.call(
            "delete_item",
            TableName=self._table.name,
            Key=key(connection_pk(connection_id), CONN_SK),
        )
        for topic_filter in sorted({s.filter for s in removed if is_wildcard(s.filter)}):
            self._wildcards.forget_if_unused(topic_filter)
        return removed

    # subscriptions ----------------------------------------------------------------------------
    def _subscription_keys(self, connection_id: str, topic_filter: str) -> list[dict[str, Any]]:
        return [
            key(connection_pk(connection_id), subscription_sk(topic_filter)),
            key(filter_pk(topic_filter), connection_pk(connection_id)),
        ]

    def subscribe(self, subscription: Subscription, now_ms: int, expires_at: int) -> bool:
        body = without_none(
            {
                "kind": "sub",
                "cid": subscription.connection_id,
                "filter": subscription.filter,
                **user_attributes(subscription.user),
                "createdAt": now_ms,
                "expiresAt": expires_at,
            }
        )
        by_connection, by_filter = self._subscription_keys(
            subscription.connection_id, subscription.filter
        )
        absent = "attribute_not_exists(#pk)"
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": {**by_connection, **dump(body)},
                    "ConditionExpression": absent,
                    **placeholders(absent),
                }
            },
            {"Put": {"TableName": self._table.name, "Item": {**by_filter, **dump(body)}}},
        ]
        if is_wildcard(subscription.filter):
            items.extend(self._wildcards.register(subscription.filter))
        else:
            items.append(self._count_members(subscription.filter, 1))
        return self._table.transact_conditions(items) is None

    def _count_members(self, topic_filter: str, delta: int) -> dict[str, Any]:
        """The head count's part of a subscription's transaction: it moves only if the
        subscription's own conditional put or delete does."""
        expression = "ADD #members :delta"
        return {
            "Update": {
                "TableName": self._table.name,
                "Key": key(headcount_pk(topic_filter), MEMBERS_SK),
                "UpdateExpression": expression,
                **placeholders(expression, delta=delta),
            }
        }

    def unsubscribe(self, connection_id: ConnectionId, topic_filter: TopicFilter) -> bool:
        removed = self._remove_subscription(connection_id, topic_filter)
        if removed and is_wildcard(topic_filter):
            self._wildcards.forget_if_unused(topic_filter)
        return removed

    def _remove_subscription(self, connection_id: str, topic_filter: str) -> bool:
        """Delete both items of a subscription; True only for the one caller that removed it."""
        by_connection, by_filter = self._subscription_keys(connection_id, topic_filter)
        present = "attribute_exists(#pk)"
        items = [
            {
                "Delete": {
                    "TableName": self._table.name,
                    "Key": by_connection,
                    "ConditionExpression": present,
                    **placeholders(present),
                }
            },
            {"Delete": {"TableName": self._table.name, "Key": by_filter}},
        ]
        if not is_wildcard(topic_filter):
            items.append(self._count_members(topic_filter, -1))
        return self._table.transact_conditions(items) is None

    def filters_of(self, connection_id: ConnectionId) -> list[TopicFilter]:
        items = self._table.partition(connection_pk(connection_id), "S#")
        return [TopicFilter(str(item["filter"])) for item in items]

    def subscribers(self, topic_filter: TopicFilter) -> list[Subscription]:
        return [subscription_of(item) for item in self._table.partition(filter_pk(topic_filter))]

    def subscriber_ids(self, topic_filter: TopicFilter) -> list[ConnectionId]:
        # the projection shrinks the response, not the bill: DynamoDB charges whole items read
        condition = "#pk = :pk"
        request = {
            "KeyConditionExpression": condition,
            "ConsistentRead": True,
            "ProjectionExpression": "#cid",
            **placeholders(condition, "#cid", pk=filter_pk(topic_filter)),
        }
        return [ConnectionId(str(item["cid"])) for item in self._table.query(request)]

    def subscribers_page(
        self, topic_filter: TopicFilter, after: ConnectionId | None, limit: int
    ) -> tuple[list[Subscription], ConnectionId | None]:
        if limit <= 0:
            return [], None
        condition = "#pk = :pk AND #sk > :after"
        response = self._table.call(
            "query",
            TableName=self._table.name,
            KeyConditionExpression=condition,
            ConsistentRead=True,
            Limit=limit + 1,
            **placeholders(condition, pk=filter_pk(topic_filter), after=connection_pk(after or "")),
        )
        page = [subscription_of(load(item)) for item in response.get("Items", [])]
        more = len(page) > limit
        page = page[:limit]
        return page, (page[-1].connection_id if more else None)

    # head counts ------------------------------------------------------------------------------
    def member_count(self, topic: Topic) -> int:
        item = self._table.get(headcount_pk(topic), MEMBERS_SK)
        return 0 if item is None else max(to_int(item.get("members", 0)), 0)

    def claim_summary(self, topic: Topic, now_ms: int, every_ms: int) -> int | None:
        expression = "SET #summaryAt = :now"
        due = (
            "attribute_exists(#pk) AND (attribute_not_exists(#summaryAt) OR #summaryAt <= :cutoff)"
        )
        try:
            response = self._table.call(
                "update_item",
                TableName=self._table.name,
                Key=key(headcount_pk(topic), MEMBERS_SK),
                UpdateExpression=expression,
                ConditionExpression=due,
                ReturnValues="ALL_NEW",
                **placeholders(expression, due, now=now_ms, cutoff=now_ms - every_ms),
            )
        except ConditionFailed:
            return None
        return max(to_int(load(response["Attributes"]).get("members", 0)), 0)

    def wildcard_filters(self) -> list[TopicFilter]:
        return self._wildcards.all_filters()

    def wildcard_filters_for(self, topic: Topic) -> list[TopicFilter]:
        return self._wildcards.filters_for(topic)

    # messages ---------------------------------------------------------------------------------
    def append(self, request: AppendRequest) -> AppendResult:
        taken, wait_us = self.take_tokens(request.takes, request.now_ms)  # their own writes
        if wait_us:
            raise TokensRefused(taken, wait_us)
        return self._appender.append(request)

    def read_after(self, topic: Topic, after_seq: int, limit: int, now_ms: int) -> MessagePage:
        return self._read_page(topic, max(after_seq + 1, 0), MAX_SEQ, True, limit, now_ms)

    def read_before(
        self, topic: Topic, before_seq: int | None, limit: int, now_ms: int
    ) -> MessagePage:
        upper = MAX_SEQ if before_seq is None else min(before_seq - 1, MAX_SEQ)
        page = self._read_page(topic, 0, upper, False, limit, now_ms)
        page.messages.reverse()
        return page

    def _read_page(
        self, topic: Topic, low: int, high: int, forward: bool, limit: int, now_ms: int
    ) -> MessagePage:
        """Up to ``limit`` unexpired messages with low <= seq <= high, in query order.

        One more than asked is fetched so ``has_more`` is exact, expired messages not counting.
        """
        if low > high:
            return MessagePage([], has_more=False)
        now_s = now_ms // 1000
        wanted = max(limit, 0) + 1
        condition = "#pk = :pk AND #sk BETWEEN :low AND :high"
        unexpired = "#expiresAt > :now"
        items = self._table.query(
            {
                "KeyConditionExpression": condition,
                "FilterExpression": unexpired,
                "ScanIndexForward": forward,
                "ConsistentRead": True,
                "Limit": wanted,
                **placeholders(
                    condition,
                    unexpired,
                    pk=topic_pk(topic),
                    low=message_sk(low),
                    high=message_sk(high),
                    now=now_s,
                ),
            }
        )
        found: list[Message] = []
        for item in items:
            message = message_from_item(item)
            if message is not None and message.expires_at > now_s:
                found.append(message)
                if len(found) == wanted:
                    break
        return MessagePage(found[: max(limit, 0)], has_more=len(found) > limit)

    def last_seq(self, topic: Topic) -> int:
        head = self._table.get(topic_pk(topic), HEAD_SK)
        return 0 if head is None else to_int(head["lastSeq"])

    def recent_topics(
        self, index: str, before_ms: int | None, limit: int, now_ms: int
    ) -> list[TopicSummary]:
        """Walk the recency index newest first, one BatchGetItem of last messages per page.

        The GSI is eventually consistent (DynamoDB offers nothing else on a GSI), so a topic
        that was just active may show its previous position for a moment.
        """
        if limit <= 0:
            return []
        condition = "#gsi1pk = :index"
        if before_ms is not None and before_ms <= MAX_UPDATED_AT:
            condition += " AND #gsi1sk < :before"
        pages = self._table.pages(
            {
                "IndexName": GSI1,
                "KeyConditionExpression": condition,
                "ScanIndexForward": False,
                "Limit": limit,
                **placeholders(
                    condition,
                    index=recent_pk(index),
                    before=None if before_ms is None else f"{before_ms:013d}",
                ),
            }
        )
        out: list[TopicSummary] = []
        for heads in pages:
            for summary in self._live_summaries(heads, now_ms // 1000):
                out.append(summary)
                if len(out) == limit:
                    return out
        return out

    def _live_summaries(self, heads: list[Item], now_s: int) -> Iterator[TopicSummary]:
        """Summaries of these heads, in order, leaving out topics whose last message expired."""
        keys = [key(str(head["pk"]), message_sk(to_int(head["lastSeq"]))) for head in heads]
        last: dict[tuple[str, int], Message] = {}
        for item in self._table.batch_get(keys):
            message = message_from_item(item)
            if message is not None:
                last[(message.topic, message.seq)] = message
        for head in heads:
            message = last.get((str(head["topic"]), to_int(head["lastSeq"])))
            if message is not None and message.expires_at > now_s:
                yield summary_of(head, message)

    def topic_summary(self, topic: Topic) -> TopicSummary | None:
        head = self._table.get(topic_pk(topic), HEAD_SK)
        if head is None:
            return None
        stored = self._table.get(topic_pk(topic), message_sk(to_int(head["lastSeq"])))
        return summary_of(head, None if stored is None else message_from_item(stored))

    # read markers -----------------------------------------------------------------------------
    def set_read_marker(self, user_id: UserId, topic: Topic, seq: int) -> int:
        expression, values = update({"kind": "read", "topic": topic, "seq": seq})
        forward = "attribute_not_exists(#pk) OR #seq < :seq"
        try:
            self._table.call(
                "update_item",
                TableName=self._table.name,
                Key=key(user_pk(user_id), marker_sk(topic)),
                UpdateExpression=expression,
                ConditionExpression=forward,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **placeholders(expression, forward, **values),
            )
        except ConditionFailed as refused:
            current = refused.item or self._table.get(user_pk(user_id), marker_sk(topic))
            return seq if current is None else to_int(current["seq"])
        return seq

    def read_markers(self, user_id: UserId, topics: list[Topic]) -> dict[Topic, int]:
        unique = list(dict.fromkeys(topics))
        keys = [key(user_pk(user_id), marker_sk(topic)) for topic in unique]
        found = {str(item["topic"]): to_int(item["seq"]) for item in self._table.batch_get(keys)}
        return {topic: found.get(topic, 0) for topic in unique}

    # people -----------------------------------------------------------------------------------
    def put_visitor(self, visitor: Visitor) -> None:
        """Upsert that keeps the first ``createdAt``, as re-registering must not reset it."""
        sets, removes = optional(
            kind="visitor", id=visitor.id, nickname=visitor.nickname, email=visitor.email
        )
        expression, values = update(
            sets, removes, raw_sets=["#createdAt = if_not_exists(#createdAt, :createdAt)"]
        )
        self._table.call(
            "update_item",
            TableName=self._table.name,
            Key=key(user_pk(visitor.id), VISITOR_SK),
            UpdateExpression=expression,
            **placeholders(expression, createdAt=visitor.created_at, **values),
        )

    def get_visitor(self, user_id: UserId) -> Visitor | None:
        item = self._table.get(user_pk(user_id), VISITOR_SK)
        return None if item is None else visitor_of(item)

    def put_operator(self, operator: Operator) -> None:
        self._table.put(
            {
                "pk": OPERATORS_PK,
                "sk": operator.id,
                "kind": "operator",
                "id": operator.id,
                "name": operator.name,
                "createdAt": operator.created_at,
            }
        )

    def get_operator(self, user_id: UserId) -> Operator | None:
        item = self._table.get(OPERATORS_PK, user_id)
        return None if item is None else operator_of(item)

    def list_operators(self) -> list[Operator]:
        operators = [operator_of(item) for item in self._table.partition(OPERATORS_PK)]
        return sorted(operators, key=lambda operator: (operator.name, operator.id))

    def delete_operator(self, user_id: UserId) -> bool:
        response = self._table.call(
            "delete_item",
            TableName=self._table.name,
            Key=key(OPERATORS_PK, user_id),
            ReturnValues="ALL_OLD",
        )
        return bool(response.get("Attributes"))

    def online_operators(self, now_ms: int) -> list[Connection]:
        condition = "#gsi1pk = :role"
        items = self._table.query(
            {
                "IndexName": GSI1,
                "KeyConditionExpression": condition,
                **placeholders(condition, role=OPERATOR_ROLE_KEY),
            }
        )
        connections = [connection_of(item) for item in items]
        return [c for c in connections if c.expires_at > now_ms // 1000]

    def set_operator_last_seen(self, now_ms: int) -> None:
        self._table.put({"pk": META_PK, "sk": LAST_SEEN_SK, "kind": "meta", "value": now_ms})

    def operator_last_seen(self) -> int | None:
        item = self._table.get(META_PK, LAST_SEEN_SK)
        return None if item is None else to_int(item["value"])

    # edits and sanctions (``revisions``) --------------------------------------------------------
    def get_message(self, topic: Topic, seq: int, now_ms: int) -> Message | None:
        return self._revisions.get_message(topic, seq, now_ms)

    def edit_message(
        self, topic: Topic, seq: int, message_id: MessageId, author: UserId, text: str, now_ms: int
    ) -> Message | None:
        return self._revisions.revise(
            topic, seq, message_id, author=author, text=text, now_ms=now_ms
        )

    def delete_message(
        self, topic: Topic, seq: int, message_id: MessageId, now_ms: int
    ) -> Message | None:
        return self._revisions.revise(topic, seq, message_id, author=None, text=None, now_ms=now_ms)

    # rate limits ------------------------------------------------------------------------------
    def take_token(self, bucket: str, rate: Rate, now_ms: int) -> int:
        return self._buckets.take_token(bucket, rate, now_ms)

    # streams ----------------------------------------------------------------------------------
    def decode_change(self, image: Mapping[str, Any]) -> Message | None:
        return message_from_item(image)

    def sweep(self, now_ms: int) -> int:
        """Nothing to do: the table's TTL on ``expiresAt`` deletes expired items on AWS."""
        return 0
