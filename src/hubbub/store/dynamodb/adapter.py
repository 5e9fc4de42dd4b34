"""The DynamoDB Store: the one table of ``template.yaml`` (``ChatTable``), keys ``pk``/``sk``.

Item layout (pk | sk | notes). Every item carries ``kind`` so the stream handler can ignore what
is not a message; ``expiresAt`` is the TTL attribute, in epoch seconds.

- message: ``T#{topic}`` | ``M#{seq:012d}`` | exactly ``items.message_item()``, so a stream
  NewImage decodes with ``items.message_from_item``.
- topic head: ``T#{topic}`` | ``HEAD`` | lastSeq, updatedAt, title, recencyIndex; while the topic
  is in a recency index also gsi1pk ``RECENT#{index}``, gsi1sk ``{updatedAt:013d}#{topic}``.
- dedupe record: ``T#{topic}`` | ``D#{sender}#{clientMsgId}`` | seq, expiresAt (``%`` and ``#``
  in the sender are percent-escaped, so no two (sender, clientMsgId) pairs share a key).
- connection: ``C#{id}`` | ``CONN`` | operator connections also gsi1pk ``ROLE#operator``.
- subscription, two items written in one transaction: ``C#{id}`` | ``S#{filter}`` (for
  ``filters_of`` and ``delete_connection``) and ``F#{filter}`` | ``C#{id}`` (for ``subscribers``).
- wildcard registry: ``WILDCARDS`` | ``{filter}`` | ver, a fresh random number per subscribe.
- read marker: ``U#{user}`` | ``R#{topic}`` | seq.
- visitor: ``U#{id}`` | ``VISITOR``.  operator: ``OPERATORS`` | ``{id}``.
- meta: ``META`` | ``operator_last_seen`` | value.

A topic's messages, head and dedupe records share one partition so ``append`` is a single
transaction on one item collection. Every request-path access is a GetItem, a Query, a
BatchGetItem or a conditional write; nothing scans.

Wildcard registry: fan-out reads it to learn which wildcard filters to look up. An entry is
written in the same transaction as the subscription, and removed when an unsubscribe or
``delete_connection`` finds the filter without subscribers. The removal is conditional on the
entry's ``ver`` being the one read before counting subscribers, so a concurrent subscribe keeps it.
Entries may still be stale (subscriptions deleted by TTL, a removal that failed); fan-out
tolerates that, because a stale filter only costs one Query that finds nobody.

Not atomic, unlike SQLite: ``delete_connection`` removes each subscription in its own transaction
(each reported by exactly one caller, so a racing ``$disconnect`` and 410 never both announce
``left``), then the connection; re-running it finishes an interrupted one.

Expiry: DynamoDB's TTL deletes lag by up to two days, so every read that is given ``now_ms``
drops items whose ``expiresAt <= now_ms // 1000``. ``sweep`` returns 0: on AWS, TTL is the sweeper.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from hubbub.ids import ConnectionId, Topic, TopicFilter, UserId
from hubbub.store.dynamodb.schema import GSI1
from hubbub.store.items import message_from_item, message_item, message_sk, topic_pk
from hubbub.store.port import (
    AppendRequest,
    AppendResult,
    Connection,
    Message,
    MessagePage,
    Operator,
    Role,
    Store,
    StoreUnavailable,
    Subscription,
    TopicSummary,
    User,
    Visitor,
)

__all__ = ["ClientLimits", "DynamoStore"]

log = logging.getLogger(__name__)

Item = dict[str, Any]
"""An item in plain Python values (numbers as Decimal), as ``TypeDeserializer`` yields it."""

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
_CLIENT_LOCK = threading.Lock()

_HEAD_SK = "HEAD"
_CONN_SK = "CONN"
_VISITOR_SK = "VISITOR"
_WILDCARDS_PK = "WILDCARDS"
_OPERATORS_PK = "OPERATORS"
_META_PK = "META"
_LAST_SEEN_SK = "operator_last_seen"
_OPERATOR_ROLE_KEY = "ROLE#operator"

_MAX_SEQ = 10**12 - 1  # the widest seq ``M#{seq:012d}`` sorts correctly
_MAX_UPDATED_AT = 10**13 - 1  # the widest epoch-ms ``{updatedAt:013d}`` sorts correctly
_MAX_PAGE = 1000
_BATCH_GET_KEYS = 100
_BATCH_GET_ATTEMPTS = 6
_CONFLICT_ATTEMPTS = 5
_BACKOFF_BASE_S = 0.01
_BACKOFF_CAP_S = 0.25

_UNAVAILABLE_ERRORS = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
        "TransactionConflictException",
    }
)
_UNAVAILABLE_REASONS = frozenset(
    {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)
_CONDITION_FAILED = "ConditionalCheckFailed"
_CONFLICT = "TransactionConflict"
_OK = "None"


@dataclass(frozen=True, slots=True)
class ClientLimits:
    """How long one request may take and how often botocore tries it.

    A Lambda must answer ``unavailable`` well inside its own timeout (10 s in template.yaml) rather
    than spend it on a table that does not answer: the defaults bound a request at about
    3 x 2 s plus backoff. DynamoDB answers in milliseconds when it answers at all.
    """

    connect_timeout_s: float = 1.0
    read_timeout_s: float = 2.0
    max_attempts: int = 3

    def config(self) -> Config:
        return Config(
            connect_timeout=self.connect_timeout_s,
            read_timeout=self.read_timeout_s,
            retries={"mode": "standard", "max_attempts": self.max_attempts},
        )


class _ConditionFailed(Exception):
    """A conditional write was refused; ``item`` is the current item when DynamoDB returned it."""

    def __init__(self, item: Item | None) -> None:
        super().__init__("condition failed")
        self.item = item


class _LostAppend:
    """What a cancelled append transaction (head, message, dedupe) says about the race it lost."""

    def __init__(self, dedupe_refused: bool, current_head: Item | None, overtaken_by: int) -> None:
        self.dedupe_refused = dedupe_refused
        self.current_head = current_head
        self.overtaken_by = overtaken_by
        """How many appends committed since the head was read: a measure of the contention."""

    @classmethod
    def of(cls, reasons: list[dict[str, Any]], expected: int) -> _LostAppend:
        if len(reasons) != 3:
            # Not the three reasons DynamoDB promises: re-read everything before trying again.
            return cls(dedupe_refused=True, current_head=None, overtaken_by=1)
        head, _, dedupe = reasons
        current = None
        if head.get("Code") == _CONDITION_FAILED and "Item" in head:
            current = _load(head["Item"])
        overtaken_by = 1 if current is None else max(1, _int(current["lastSeq"]) - expected)
        return cls(dedupe.get("Code", _OK) != _OK, current, overtaken_by)


# keys -----------------------------------------------------------------------------------------
def _connection_pk(connection_id: str) -> str:
    return f"C#{connection_id}"


def _subscription_sk(topic_filter: str) -> str:
    return f"S#{topic_filter}"


def _filter_pk(topic_filter: str) -> str:
    return f"F#{topic_filter}"


def _user_pk(user_id: str) -> str:
    return f"U#{user_id}"


def _marker_sk(topic: str) -> str:
    return f"R#{topic}"


def _dedupe_sk(sender: str, client_msg_id: str) -> str:
    """``D#{sender}#{cmid}``; escaping ``#`` in the sender keeps two senders from ever colliding."""
    return f"D#{sender.replace('%', '%25').replace('#', '%23')}#{client_msg_id}"


def _recent_pk(index: str) -> str:
    return f"RECENT#{index}"


def _recent_sk(updated_at: int, topic: str) -> str:
    return f"{updated_at:013d}#{topic}"


def _is_wildcard(topic_filter: str) -> bool:
    return any(level in ("+", "#") for level in topic_filter.split("/"))


# values ---------------------------------------------------------------------------------------
def _dump(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _SERIALIZER.serialize(value) for name, value in item.items()}


def _load(item: Mapping[str, Any]) -> Item:
    return {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _expression(*expressions: str, **values: Any) -> dict[str, Any]:
    """Names and values for expressions written with ``#attr`` and ``:value`` placeholders.

    Every attribute is aliased (``#attr`` -> ``attr``) so no reserved word can break a request,
    and only what the expressions use is sent, which DynamoDB insists on.
    """
    text = " ".join(expressions)
    out: dict[str, Any] = {}
    names = sorted(set(re.findall(r"#(\w+)", text)))
    if names:
        out["ExpressionAttributeNames"] = {f"#{name}": name for name in names}
    used = set(re.findall(r":(\w+)", text))
    if used:
        out["ExpressionAttributeValues"] = {
            f":{name}": _SERIALIZER.serialize(value)
            for name, value in values.items()
            if name in used
        }
    return out


def _update(
    sets: Mapping[str, Any], removes: Iterable[str] = (), *, raw_sets: Iterable[str] = ()
) -> tuple[str, dict[str, Any]]:
    """An UpdateExpression that SETs ``sets`` (attribute -> value) and REMOVEs ``removes``.

    ``raw_sets`` are extra SET clauses written by hand, such as ``if_not_exists`` ones.
    """
    assignments = [*raw_sets, *(f"#{name} = :{name}" for name in sets)]
    clauses = ["SET " + ", ".join(assignments)]
    removed = list(removes)
    if removed:
        clauses.append("REMOVE " + ", ".join(f"#{name}" for name in removed))
    return " ".join(clauses), dict(sets)


def _optional(**values: Any) -> tuple[dict[str, Any], list[str]]:
    """Split attributes into those to SET and the ``None`` ones to REMOVE."""
    sets = {name: value for name, value in values.items() if value is not None}
    return sets, [name for name, value in values.items() if value is None]


def _user_attributes(user: User) -> dict[str, Any]:
    return {"userId": user.id, "role": user.role.value, "nick": user.nickname}


def _role_index(user: User, connection_id: str) -> dict[str, Any]:
    """GSI keys that list operator connections; None (removed) for everyone else."""
    operator = user.role is Role.OPERATOR
    return {
        "gsi1pk": _OPERATOR_ROLE_KEY if operator else None,
        "gsi1sk": _connection_pk(connection_id) if operator else None,
    }


def _without_none(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if value is not None}


# decoding -------------------------------------------------------------------------------------
def _int(value: Any) -> int:
    return int(value) if isinstance(value, Decimal | int) else int(str(value))


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _user(item: Item) -> User:
    return User(UserId(str(item["userId"])), Role(str(item["role"])), _opt_str(item.get("nick")))


def _connection(item: Item) -> Connection:
    return Connection(
        id=ConnectionId(str(item["id"])),
        user=_user(item),
        connected_at=_int(item["connectedAt"]),
        expires_at=_int(item["expiresAt"]),
    )


def _subscription(item: Item) -> Subscription:
    return Subscription(
        connection_id=ConnectionId(str(item["cid"])),
        filter=TopicFilter(str(item["filter"])),
        user=_user(item),
    )


def _operator(item: Item) -> Operator:
    return Operator(UserId(str(item["id"])), str(item["name"]), _int(item["createdAt"]))


def _summary(head: Item, last: Message | None) -> TopicSummary:
    return TopicSummary(
        topic=Topic(str(head["topic"])),
        last_seq=_int(head["lastSeq"]),
        updated_at=_int(head["updatedAt"]),
        title=_opt_str(head.get("title")),
        last_message=last,
    )


def _pause(attempt: int, contenders: int = 1) -> None:
    """Full-jitter exponential backoff, so contending writers spread out instead of re-colliding.

    The window also grows with ``contenders`` (how many writers just beat us): when many are
    racing, spreading the retries over a longer time is what lets each of them win soon.
    """
    window = _BACKOFF_BASE_S * contenders * 2**attempt
    time.sleep(random.uniform(0, min(_BACKOFF_CAP_S, window)))


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class DynamoStore(Store):
    def __init__(
        self,
        table_name: str,
        *,
        client: Any = None,
        endpoint_url: str | None = None,
        max_append_attempts: int = 16,
        limits: ClientLimits | None = None,
    ) -> None:
        if max_append_attempts < 1:
            raise ValueError("max_append_attempts must be at least 1")
        self._limits = limits or ClientLimits()
        self._table = table_name
        self._client = client
        self._owns_client = client is None
        self._endpoint_url = endpoint_url
        self._max_append_attempts = max_append_attempts

    # plumbing ---------------------------------------------------------------------------------
    def _dynamodb(self) -> Any:
        """The low-level client, made on first use so that importing or building costs no I/O."""
        if self._client is None:
            import boto3

            # boto3's default session is not safe to build clients from in several threads.
            with _CLIENT_LOCK:
                if self._client is None:
                    self._client = boto3.client(
                        "dynamodb", endpoint_url=self._endpoint_url, config=self._limits.config()
                    )
        return self._client

    def _call(self, operation: str, **request: Any) -> dict[str, Any]:
        """One request; throttling and network trouble become ``StoreUnavailable``."""
        try:
            response: dict[str, Any] = getattr(self._dynamodb(), operation)(**request)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                old = exc.response.get("Item")
                raise _ConditionFailed(None if old is None else _load(old)) from exc
            if code in _UNAVAILABLE_ERRORS:
                raise StoreUnavailable(f"dynamodb {operation}: {code}") from exc
            raise
        except (BotoConnectionError, HTTPClientError) as exc:
            raise StoreUnavailable(f"dynamodb {operation}: {exc}") from exc
        return response

    def _get(self, pk: str, sk: str) -> Item | None:
        response = self._call(
            "get_item", TableName=self._table, Key=_key(pk, sk), ConsistentRead=True
        )
        item = response.get("Item")
        return None if item is None else _load(item)

    def _put(self, item: Mapping[str, Any]) -> None:
        self._call("put_item", TableName=self._table, Item=_dump(item))

    def _pages(self, request: Mapping[str, Any]) -> Iterator[list[Item]]:
        """A Query page by page, following LastEvaluatedKey.

        A ``Limit`` sizes the first page for the common case (nothing expired, nothing skipped)
        and doubles per page after it, so skipping many items costs few round trips.
        """
        pending = {"TableName": self._table, **request}
        while True:
            page = self._call("query", **pending)
            yield [_load(raw) for raw in page.get("Items", [])]
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            pending["ExclusiveStartKey"] = last
            if "Limit" in pending:
                pending["Limit"] = min(pending["Limit"] * 2, _MAX_PAGE)

    def _query(self, request: Mapping[str, Any]) -> Iterator[Item]:
        for page in self._pages(request):
            yield from page

    def _partition(self, pk: str, sk_prefix: str | None = None) -> Iterator[Item]:
        condition = "#pk = :pk" + (" AND begins_with(#sk, :prefix)" if sk_prefix else "")
        return self._query(
            {
                "KeyConditionExpression": condition,
                "ConsistentRead": True,
                **_expression(condition, pk=pk, prefix=sk_prefix),
            }
        )

    def _batch_get(self, keys: list[dict[str, Any]]) -> list[Item]:
        """BatchGetItem in chunks of 100, re-asking for what DynamoDB left unprocessed."""
        found: list[Item] = []
        for chunk in _chunks(keys, _BATCH_GET_KEYS):
            pending: dict[str, Any] = {self._table: {"Keys": chunk, "ConsistentRead": True}}
            for attempt in range(_BATCH_GET_ATTEMPTS):
                response = self._call("batch_get_item", RequestItems=pending)
                found.extend(
                    _load(raw) for raw in response.get("Responses", {}).get(self._table, [])
                )
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                _pause(attempt)
            else:
                raise StoreUnavailable("dynamodb batch_get_item: keys left unprocessed")
        return found

    def _transact(self, items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """None when the transaction committed, else DynamoDB's cancellation reasons, in order."""
        try:
            self._call("transact_write_items", TransactItems=items)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons: list[dict[str, Any]] = exc.response.get("CancellationReasons", [])
            codes = {reason.get("Code", _OK) for reason in reasons}
            if codes & _UNAVAILABLE_REASONS:
                raise StoreUnavailable(f"dynamodb transaction: {sorted(codes)}") from exc
            if not codes <= {_OK, _CONDITION_FAILED, _CONFLICT}:
                raise
            return reasons
        return None

    def _transact_conditions(self, items: list[dict[str, Any]]) -> list[str] | None:
        """Commit, retrying only conflicts with concurrent transactions; the codes if refused."""
        for attempt in range(_CONFLICT_ATTEMPTS):
            reasons = self._transact(items)
            if reasons is None:
                return None
            codes = [reason.get("Code", _OK) for reason in reasons]
            if _CONFLICT not in codes:
                return codes
            _pause(attempt)
        raise StoreUnavailable("dynamodb transaction: kept conflicting")

    def close(self) -> None:
        """Close the client this store made; a client passed in belongs to the caller."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            client.close()

    # connections ------------------------------------------------------------------------------
    def put_connection(self, connection: Connection) -> None:
        user = connection.user
        self._put(
            _without_none(
                {
                    "pk": _connection_pk(connection.id),
                    "sk": _CONN_SK,
                    "kind": "conn",
                    "id": connection.id,
                    **_user_attributes(user),
                    **_role_index(user, connection.id),
                    "connectedAt": connection.connected_at,
                    "expiresAt": connection.expires_at,
                }
            )
        )

    def get_connection(self, connection_id: ConnectionId) -> Connection | None:
        item = self._get(_connection_pk(connection_id), _CONN_SK)
        return None if item is None else _connection(item)

    def set_connection_user(self, connection_id: ConnectionId, user: User) -> None:
        sets, removes = _optional(**_user_attributes(user), **_role_index(user, connection_id))
        self._update_existing(_connection_pk(connection_id), _CONN_SK, sets, removes)
        for item in self._partition(_connection_pk(connection_id), "S#"):
            self._set_subscription_user(_subscription(item), user)

    def _update_existing(
        self, pk: str, sk: str, sets: Mapping[str, Any], removes: Iterable[str]
    ) -> None:
        """Update an item only if it is there: a racing delete must not resurrect it as a stub."""
        expression, values = _update(sets, removes)
        condition = "attribute_exists(#pk)"
        with contextlib.suppress(_ConditionFailed):
            self._call(
                "update_item",
                TableName=self._table,
                Key=_key(pk, sk),
                UpdateExpression=expression,
                ConditionExpression=condition,
                **_expression(expression, condition, **values),
            )

    def _set_subscription_user(self, subscription: Subscription, user: User) -> None:
        sets, removes = _optional(**_user_attributes(user))
        expression, values = _update(sets, removes)
        condition = "attribute_exists(#pk)"
        names_values = _expression(expression, condition, **values)
        updates = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": key,
                    "UpdateExpression": expression,
                    "ConditionExpression": condition,
                    **names_values,
                }
            }
            for key in self._subscription_keys(subscription.connection_id, subscription.filter)
        ]
        self._transact_conditions(updates)  # refused: unsubscribed meanwhile, nothing to update

    def delete_connection(self, connection_id: ConnectionId) -> list[Subscription]:
        removed = [
            subscription
            for subscription in map(
                _subscription, self._partition(_connection_pk(connection_id), "S#")
            )
            if self._remove_subscription(subscription.connection_id, subscription.filter)
        ]
        self._call(
            "delete_item", TableName=self._table, Key=_key(_connection_pk(connection_id), _CONN_SK)
        )
        for topic_filter in sorted({s.filter for s in removed if _is_wildcard(s.filter)}):
            self._forget_wildcard_if_unused(topic_filter)
        return removed

    # subscriptions ----------------------------------------------------------------------------
    def _subscription_keys(self, connection_id: str, topic_filter: str) -> list[dict[str, Any]]:
        return [
            _key(_connection_pk(connection_id), _subscription_sk(topic_filter)),
            _key(_filter_pk(topic_filter), _connection_pk(connection_id)),
        ]

    def subscribe(self, subscription: Subscription, now_ms: int, expires_at: int) -> bool:
        body = _without_none(
            {
                "kind": "sub",
                "cid": subscription.connection_id,
                "filter": subscription.filter,
                **_user_attributes(subscription.user),
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
                    "TableName": self._table,
                    "Item": {**by_connection, **_dump(body)},
                    "ConditionExpression": absent,
                    **_expression(absent),
                }
            },
            {"Put": {"TableName": self._table, "Item": {**by_filter, **_dump(body)}}},
        ]
        if _is_wildcard(subscription.filter):
            items.append(self._register_wildcard(subscription.filter))
        return self._transact_conditions(items) is None

    def _register_wildcard(self, topic_filter: str) -> dict[str, Any]:
        """The registry write of a subscribe; a fresh ``ver`` tells a concurrent remover to stop."""
        expression, values = _update(
            {"kind": "wildcard", "filter": topic_filter, "ver": random.getrandbits(63)}
        )
        return {
            "Update": {
                "TableName": self._table,
                "Key": _key(_WILDCARDS_PK, topic_filter),
                "UpdateExpression": expression,
                **_expression(expression, **values),
            }
        }

    def unsubscribe(self, connection_id: ConnectionId, topic_filter: TopicFilter) -> bool:
        removed = self._remove_subscription(connection_id, topic_filter)
        if removed and _is_wildcard(topic_filter):
            self._forget_wildcard_if_unused(topic_filter)
        return removed

    def _remove_subscription(self, connection_id: str, topic_filter: str) -> bool:
        """Delete both items of a subscription; True only for the one caller that removed it."""
        by_connection, by_filter = self._subscription_keys(connection_id, topic_filter)
        present = "attribute_exists(#pk)"
        items = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": by_connection,
                    "ConditionExpression": present,
                    **_expression(present),
                }
            },
            {"Delete": {"TableName": self._table, "Key": by_filter}},
        ]
        return self._transact_conditions(items) is None

    def _forget_wildcard_if_unused(self, topic_filter: str) -> None:
        """Drop a registry entry nobody subscribes with; best effort, since stale is harmless."""
        try:
            entry = self._get(_WILDCARDS_PK, topic_filter)
            if entry is None or self._has_subscriber(topic_filter):
                return
            unchanged = "#ver = :ver"
            self._call(
                "delete_item",
                TableName=self._table,
                Key=_key(_WILDCARDS_PK, topic_filter),
                ConditionExpression=unchanged,
                **_expression(unchanged, ver=entry["ver"]),
            )
        except _ConditionFailed:
            pass  # subscribed again meanwhile: the entry is needed
        except StoreUnavailable as exc:
            log.warning("wildcard registry entry %r left stale: %s", topic_filter, exc)

    def _has_subscriber(self, topic_filter: str) -> bool:
        condition = "#pk = :pk"
        page = self._call(
            "query",
            TableName=self._table,
            KeyConditionExpression=condition,
            ConsistentRead=True,
            Limit=1,
            **_expression(condition, pk=_filter_pk(topic_filter)),
        )
        return bool(page.get("Items"))

    def filters_of(self, connection_id: ConnectionId) -> list[TopicFilter]:
        items = self._partition(_connection_pk(connection_id), "S#")
        return [TopicFilter(str(item["filter"])) for item in items]

    def subscribers(self, topic_filter: TopicFilter) -> list[Subscription]:
        return [_subscription(item) for item in self._partition(_filter_pk(topic_filter))]

    def subscriber_ids(self, topic_filter: TopicFilter) -> list[ConnectionId]:
        # the projection shrinks the response, not the bill: DynamoDB charges whole items read
        condition = "#pk = :pk"
        request = {
            "KeyConditionExpression": condition,
            "ConsistentRead": True,
            "ProjectionExpression": "#cid",
            **_expression(condition, "#cid", pk=_filter_pk(topic_filter)),
        }
        return [ConnectionId(str(item["cid"])) for item in self._query(request)]

    def wildcard_filters(self) -> list[TopicFilter]:
        return [TopicFilter(str(item["filter"])) for item in self._partition(_WILDCARDS_PK)]

    # messages ---------------------------------------------------------------------------------
    def append(self, request: AppendRequest) -> AppendResult:
        """Optimistic concurrency on the head: read it, write head+message+dedupe if unchanged.

        A refused head means another writer took the seq; the cancellation hands back the head
        it wrote, so the retry needs no extra read. A refused dedupe record means a copy of this
        very send committed meanwhile, so the answer is that copy.
        """
        must_read = True
        seen: Item | None = None
        head: Item | None = None
        for attempt in range(self._max_append_attempts):
            if must_read:
                seen, head = self._read_for_append(request)
                original = self._original_of(request, seen)
                if original is not None:
                    return AppendResult(original, duplicate=True)
            expected = 0 if head is None else _int(head["lastSeq"])
            message = _new_message(request, expected + 1)
            reasons = self._transact(self._append_items(request, message, expected, seen))
            if reasons is None:
                if request.mark_read:
                    self._mark_own_message_read(request, message.seq)
                return AppendResult(message, duplicate=False)
            lost = _LostAppend.of(reasons, expected)
            must_read = lost.dedupe_refused or lost.current_head is None
            head = lost.current_head
            if not lost.dedupe_refused:
                _pause(attempt, lost.overtaken_by)
        raise StoreUnavailable(f"append to {request.topic}: lost {self._max_append_attempts} races")

    def _mark_own_message_read(self, request: AppendRequest, seq: int) -> None:
        """Its own UpdateItem, after the transaction rather than in it: a transaction item costs
        2 WRU, this 1; and the message is stored either way, so a marker that cannot be written
        now is logged, never turned into a failed send."""
        try:
            self.set_read_marker(request.sender, request.topic, seq)
        except StoreUnavailable as exc:
            log.warning("read marker of %s on %s not moved: %s", request.sender, request.topic, exc)

    def _read_for_append(self, request: AppendRequest) -> tuple[Item | None, Item | None]:
        """The dedupe record and the topic head, in one consistent BatchGetItem."""
        partition = topic_pk(request.topic)
        dedupe_sk = _dedupe_sk(request.sender, request.client_msg_id)
        found = {
            str(item["sk"]): item
            for item in self._batch_get([_key(partition, dedupe_sk), _key(partition, _HEAD_SK)])
        }
        return found.get(dedupe_sk), found.get(_HEAD_SK)

    def _original_of(self, request: AppendRequest, record: Item | None) -> Message | None:
        """The message an unexpired dedupe record points at, if it is still stored.

        Like SQLite, the original is returned even when the message itself has expired; a record
        whose message is gone (TTL got there first) dedupes nothing.
        """
        if record is None or _int(record["expiresAt"]) <= request.now_ms // 1000:
            return None
        stored = self._get(topic_pk(request.topic), message_sk(_int(record["seq"])))
        return None if stored is None else message_from_item(stored)

    def _append_items(
        self, request: AppendRequest, message: Message, expected: int, seen: Item | None
    ) -> list[dict[str, Any]]:
        absent = "attribute_not_exists(#pk)"
        return [
            self._head_update(request, message.seq, expected),
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _dump(message_item(message)),
                    "ConditionExpression": absent,
                    **_expression(absent),
                }
            },
            self._dedupe_put(request, message.seq, seen),
        ]

    def _head_update(self, request: AppendRequest, seq: int, expected: int) -> dict[str, Any]:
        """Advance the head if nobody else did; a None title keeps the old one, as in SQLite."""
        index = request.recency_index
        sets, removes = _optional(
            kind="head",
            topic=request.topic,
            lastSeq=seq,
            updatedAt=request.now_ms,
            recencyIndex=index,
            gsi1pk=None if index is None else _recent_pk(index),
            gsi1sk=None if index is None else _recent_sk(request.now_ms, request.topic),
        )
        if request.title is not None:
            sets["title"] = request.title
        expression, values = _update(sets, removes)
        condition = "attribute_not_exists(#pk) OR #lastSeq = :expected"
        return {
            "Update": {
                "TableName": self._table,
                "Key": _key(topic_pk(request.topic), _HEAD_SK),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                **_expression(expression, condition, expected=expected, **values),
            }
        }

    def _dedupe_put(self, request: AppendRequest, seq: int, seen: Item | None) -> dict[str, Any]:
        """The dedupe record goes in only if it is still what ``_find_duplicate`` saw.

        Absent, or an expired or orphaned record (its message gone) that is replaced as SQLite
        replaces it; any change in between means a concurrent copy of this send committed.
        """
        if seen is None:
            condition, values = "attribute_not_exists(#pk)", {}
        else:
            condition = "#seq = :seenSeq AND #expiresAt = :seenExpiresAt"
            values = {"seenSeq": seen["seq"], "seenExpiresAt": seen["expiresAt"]}
        item = {
            "pk": topic_pk(request.topic),
            "sk": _dedupe_sk(request.sender, request.client_msg_id),
            "kind": "dedupe",
            "from": request.sender,
            "cmid": request.client_msg_id,
            "seq": seq,
            "expiresAt": request.dedupe_expires_at,
        }
        return {
            "Put": {
                "TableName": self._table,
                "Item": _dump(item),
                "ConditionExpression": condition,
                **_expression(condition, **values),
            }
        }

    def read_after(self, topic: Topic, after_seq: int, limit: int, now_ms: int) -> MessagePage:
        return self._read_page(topic, max(after_seq + 1, 0), _MAX_SEQ, True, limit, now_ms)

    def read_before(
        self, topic: Topic, before_seq: int | None, limit: int, now_ms: int
    ) -> MessagePage:
        upper = _MAX_SEQ if before_seq is None else min(before_seq - 1, _MAX_SEQ)
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
        items = self._query(
            {
                "KeyConditionExpression": condition,
                "FilterExpression": unexpired,
                "ScanIndexForward": forward,
                "ConsistentRead": True,
                "Limit": wanted,
                **_expression(
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
        head = self._get(topic_pk(topic), _HEAD_SK)
        return 0 if head is None else _int(head["lastSeq"])

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
        if before_ms is not None and before_ms <= _MAX_UPDATED_AT:
            condition += " AND #gsi1sk < :before"
        pages = self._pages(
            {
                "IndexName": GSI1,
                "KeyConditionExpression": condition,
                "ScanIndexForward": False,
                "Limit": limit,
                **_expression(
                    condition,
                    index=_recent_pk(index),
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
        keys = [_key(str(head["pk"]), message_sk(_int(head["lastSeq"]))) for head in heads]
        last: dict[tuple[str, int], Message] = {}
        for item in self._batch_get(keys):
            message = message_from_item(item)
            if message is not None:
                last[(message.topic, message.seq)] = message
        for head in heads:
            message = last.get((str(head["topic"]), _int(head["lastSeq"])))
            if message is not None and message.expires_at > now_s:
                yield _summary(head, message)

    def topic_summary(self, topic: Topic) -> TopicSummary | None:
        head = self._get(topic_pk(topic), _HEAD_SK)
        if head is None:
            return None
        stored = self._get(topic_pk(topic), message_sk(_int(head["lastSeq"])))
        return _summary(head, None if stored is None else message_from_item(stored))

    # read markers -----------------------------------------------------------------------------
    def set_read_marker(self, user_id: UserId, topic: Topic, seq: int) -> int:
        expression, values = _update({"kind": "read", "topic": topic, "seq": seq})
        forward = "attribute_not_exists(#pk) OR #seq < :seq"
        try:
            self._call(
                "update_item",
                TableName=self._table,
                Key=_key(_user_pk(user_id), _marker_sk(topic)),
                UpdateExpression=expression,
                ConditionExpression=forward,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **_expression(expression, forward, **values),
            )
        except _ConditionFailed as refused:
            current = refused.item or self._get(_user_pk(user_id), _marker_sk(topic))
            return seq if current is None else _int(current["seq"])
        return seq

    def read_markers(self, user_id: UserId, topics: list[Topic]) -> dict[Topic, int]:
        unique = list(dict.fromkeys(topics))
        keys = [_key(_user_pk(user_id), _marker_sk(topic)) for topic in unique]
        found = {str(item["topic"]): _int(item["seq"]) for item in self._batch_get(keys)}
        return {topic: found.get(topic, 0) for topic in unique}

    # people -----------------------------------------------------------------------------------
    def put_visitor(self, visitor: Visitor) -> None:
        """Upsert that keeps the first ``createdAt``, as re-registering must not reset it."""
        sets, removes = _optional(
            kind="visitor", id=visitor.id, nickname=visitor.nickname, email=visitor.email
        )
        expression, values = _update(
            sets, removes, raw_sets=["#createdAt = if_not_exists(#createdAt, :createdAt)"]
        )
        self._call(
            "update_item",
            TableName=self._table,
            Key=_key(_user_pk(visitor.id), _VISITOR_SK),
            UpdateExpression=expression,
            **_expression(expression, createdAt=visitor.created_at, **values),
        )

    def get_visitor(self, user_id: UserId) -> Visitor | None:
        item = self._get(_user_pk(user_id), _VISITOR_SK)
        if item is None:
            return None
        return Visitor(
            id=UserId(str(item["id"])),
            nickname=str(item["nickname"]),
            email=_opt_str(item.get("email")),
            created_at=_int(item["createdAt"]),
        )

    def put_operator(self, operator: Operator) -> None:
        self._put(
            {
                "pk": _OPERATORS_PK,
                "sk": operator.id,
                "kind": "operator",
                "id": operator.id,
                "name": operator.name,
                "createdAt": operator.created_at,
            }
        )

    def get_operator(self, user_id: UserId) -> Operator | None:
        item = self._get(_OPERATORS_PK, user_id)
        return None if item is None else _operator(item)

    def list_operators(self) -> list[Operator]:
        operators = [_operator(item) for item in self._partition(_OPERATORS_PK)]
        return sorted(operators, key=lambda operator: (operator.name, operator.id))

    def delete_operator(self, user_id: UserId) -> bool:
        response = self._call(
            "delete_item",
            TableName=self._table,
            Key=_key(_OPERATORS_PK, user_id),
            ReturnValues="ALL_OLD",
        )
        return bool(response.get("Attributes"))

    def online_operators(self, now_ms: int) -> list[Connection]:
        condition = "#gsi1pk = :role"
        items = self._query(
            {
                "IndexName": GSI1,
                "KeyConditionExpression": condition,
                **_expression(condition, role=_OPERATOR_ROLE_KEY),
            }
        )
        connections = [_connection(item) for item in items]
        return [c for c in connections if c.expires_at > now_ms // 1000]

    def set_operator_last_seen(self, now_ms: int) -> None:
        self._put({"pk": _META_PK, "sk": _LAST_SEEN_SK, "kind": "meta", "value": now_ms})

    def operator_last_seen(self) -> int | None:
        item = self._get(_META_PK, _LAST_SEEN_SK)
        return None if item is None else _int(item["value"])

    # streams ----------------------------------------------------------------------------------
    def decode_change(self, image: Mapping[str, Any]) -> Message | None:
        return message_from_item(image)

    def sweep(self, now_ms: int) -> int:
        """Nothing to do: the table's TTL on ``expiresAt`` deletes expired items on AWS."""
        return 0


def _new_message(request: AppendRequest, seq: int) -> Message:
    return Message(
        topic=request.topic,
        seq=seq,
        id=request.message_id,
        ts=request.now_ms,
        sender=request.sender,
        nickname=request.nickname,
        text=request.text,
        client_msg_id=request.client_msg_id,
        expires_at=request.expires_at,
    )
