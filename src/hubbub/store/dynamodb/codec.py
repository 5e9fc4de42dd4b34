"""Items in Python values <-> the DynamoDB wire format, and items <-> the Store's records.

``TypeDeserializer`` yields numbers as ``Decimal`` and leaves absent attributes absent, so the
decoders here turn them into the records' ints and Nones in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from hubbub.ids import ConnectionId, Topic, TopicFilter, UserId
from hubbub.store.dynamodb.keys import OPERATOR_ROLE_KEY, connection_pk
from hubbub.store.records import (
    Connection,
    Message,
    Operator,
    Role,
    Subscription,
    TopicSummary,
    User,
    Visitor,
)

__all__ = [
    "Item",
    "connection_of",
    "dump",
    "load",
    "operator_of",
    "opt_str",
    "role_index",
    "subscription_of",
    "summary_of",
    "to_int",
    "user_attributes",
    "visitor_of",
    "without_none",
]

Item = dict[str, Any]
"""An item in plain Python values (numbers as Decimal), as ``TypeDeserializer`` yields it."""

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def dump(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _SERIALIZER.serialize(value) for name, value in item.items()}


def load(item: Mapping[str, Any]) -> Item:
    return {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}


def without_none(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if value is not None}


def user_attributes(user: User) -> dict[str, Any]:
    return {"userId": user.id, "role": user.role.value, "nick": user.nickname}


def role_index(user: User, connection_id: str) -> dict[str, Any]:
    """GSI keys that list operator connections; None (removed) for everyone else."""
    operator = user.role is Role.OPERATOR
    return {
        "gsi1pk": OPERATOR_ROLE_KEY if operator else None,
        "gsi1sk": connection_pk(connection_id) if operator else None,
    }


def to_int(value: Any) -> int:
    return int(value) if isinstance(value, Decimal | int) else int(str(value))


def opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _user(item: Item) -> User:
    return User(UserId(str(item["userId"])), Role(str(item["role"])), opt_str(item.get("nick")))


def connection_of(item: Item) -> Connection:
    return Connection(
        id=ConnectionId(str(item["id"])),
        user=_user(item),
        connected_at=to_int(item["connectedAt"]),
        expires_at=to_int(item["expiresAt"]),
        client_id=opt_str(item.get("clientId")),
    )


def subscription_of(item: Item) -> Subscription:
    return Subscription(
        connection_id=ConnectionId(str(item["cid"])),
        filter=TopicFilter(str(item["filter"])),
        user=_user(item),
    )


def operator_of(item: Item) -> Operator:
    return Operator(UserId(str(item["id"])), str(item["name"]), to_int(item["createdAt"]))


def visitor_of(item: Item) -> Visitor:
    return Visitor(
        id=UserId(str(item["id"])),
        nickname=str(item["nickname"]),
        email=opt_str(item.get("email")),
        created_at=to_int(item["createdAt"]),
    )


def summary_of(head: Item, last: Message | None) -> TopicSummary:
    return TopicSummary(
        topic=Topic(str(head["topic"])),
        last_seq=to_int(head["lastSeq"]),
        updated_at=to_int(head["updatedAt"]),
        title=opt_str(head.get("title")),
        last_message=last,
    )
